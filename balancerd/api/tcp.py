"""The optional TCP listener of the control API: TLS and the bearer token, checked before it binds.

Called by :class:`balancerd.api.server.ApiServer` when ``[control] tcp_address`` is set (config checks
already demand ``tls_cert``, ``tls_key`` and ``token_file`` then). An unreadable certificate, key or token is
a :class:`~balancerd.errors.ConfigError` naming its key; an address that cannot be bound an
:class:`~balancerd.api.errors.ApiError`.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from balancerd.api.auth import load_token
from balancerd.api.errors import ApiError
from balancerd.config.schema import ControlConfig
from balancerd.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TcpListener:
    """A bound, listening TCP socket, the TLS context to wrap it in and the token every request needs."""

    sock: socket.socket
    tls: ssl.SSLContext
    token: bytes

    def address(self) -> tuple[str, int]:
        """The bound address and port (the port the kernel chose when the config said 0)."""
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)


def open_listener(config: ControlConfig) -> TcpListener:
    """Read the token and the certificate, then bind ``tcp_address:tcp_port``."""
    token = load_token(config.token_file)
    tls = tls_context(config.tls_cert, config.tls_key)
    return TcpListener(sock=bind(config.tcp_address, config.tcp_port), tls=tls, token=token)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context (TLS 1.2 or later) with ``cert`` and ``key``; ConfigError naming the bad file."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except FileNotFoundError as exc:
        name = "control.tls_cert" if exc.filename in (None, cert) else "control.tls_key"
        raise ConfigError(name, exc.filename or cert, "must be a readable PEM file") from exc
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("control.tls_cert", cert, f"with control.tls_key {key!r} must be a PEM certificate "
                          f"and its private key ({exc})") from exc
    return context


def bind(address: str, port: int) -> socket.socket:
    """A listening TCP socket on ``address`` (IPv4, IPv6 or a name) and ``port``."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sock = socket.create_server((address, port), family=family, backlog=64)
    except OSError as exc:
        raise ApiError(f"cannot listen on control.tcp_address {address!r} port {port}: "
                       f"{exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock
