"""A real etcd (Debian's etcd-server) for the tests: 127.0.0.1, free ports, a temporary data directory.

Started by :func:`start` (or the ``etcd_server`` / ``private_etcd`` fixtures of tests/conftest.py, through
:func:`running_etcd`: without etcd installed they skip, unless ``BALANCERD_E2E_REQUIRED`` is set, then they
fail, so a CI that must run them cannot pass by skipping), stopped by its pid (:meth:`EtcdServer.stop`);
:meth:`EtcdServer.freeze` and :meth:`EtcdServer.thaw` pause it with SIGSTOP / SIGCONT (a hung etcd),
:meth:`EtcdServer.restart` brings a stopped one back on the same ports and data. Readiness is waited on by
asking ``/health``, with a deadline from what was measured (first answer 0.5-0.9 s after start on the 2-core
machine; ten times that allowed).

``start(directory, tls=True)`` (or ``running_etcd(directory, tls=True)``) serves clients over https only and
requires a client certificate (``--client-cert-auth``): :func:`make_tls` writes a throw-away CA, a server
certificate for IP 127.0.0.1 and a client certificate into ``directory`` (with the ``cryptography`` package,
which trustme of the dev dependencies brings along); the server's :attr:`EtcdServer.ca_file`,
:attr:`EtcdServer.cert_file` and :attr:`EtcdServer.key_file` are what a client needs. :func:`make_ca` writes
another CA, one the server does not trust. Peers stay on http.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

ETCD = "/usr/bin/etcd"
READY_S = 10.0
"""Measured: 0.53-0.86 s from exec to the first answer; ten times that."""


def available() -> bool:
    return Path(ETCD).exists() or shutil.which("etcd") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS etcd: the CA that signed both certificates, the server's pair and a client's pair."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass
class EtcdServer:
    data_dir: Path
    client_port: int
    peer_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None)
    tls: TlsFiles | None = field(default=None)
    """When set: clients over https only, with a client certificate signed by ``tls.ca``."""

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.client_port}"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the server's (and the client's) certificate; TLS servers only."""
        return self._tls().ca

    @property
    def cert_file(self) -> Path:
        """A client certificate the server accepts; TLS servers only."""
        return self._tls().client_cert

    @property
    def key_file(self) -> Path:
        """The key of :attr:`cert_file`."""
        return self._tls().client_key

    def _tls(self) -> TlsFiles:
        if self.tls is None:
            raise AttributeError(f"etcd at {self.url} was started without TLS")
        return self.tls

    def launch(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}  # the package's defaults
        secure: list[str] = []
        if self.tls is not None:
            secure = ["--cert-file", str(self.tls.server_cert), "--key-file", str(self.tls.server_key),
                      "--client-cert-auth", "--trusted-ca-file", str(self.tls.ca)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [shutil.which("etcd") or ETCD, "--name", "test", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"test={peer}", "--initial-cluster-state", "new", *secure],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}; see {self.log_path}")
            if self.healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(f"etcd did not answer within {READY_S} s; see {self.log_path}")

    def healthy(self) -> bool:
        try:
            with _opener(self.tls).open(self.url + "/health", timeout=1.0) as answer:
                return bool(json.loads(answer.read()).get("health") in ("true", True))
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        """Stop it by pid (thawing it first if frozen); waits for the exit."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.launch()

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def _opener(tls: TlsFiles | None = None) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]  # never the environment's proxy
    if tls is not None:
        context = ssl.create_default_context(cafile=str(tls.ca))
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def start(directory: Path, tls: bool = False) -> EtcdServer:
    """A new single-member etcd with its data and log under ``directory``; ``tls``: see the module."""
    directory.mkdir(parents=True, exist_ok=True)
    files = make_tls(directory / "tls") if tls else None
    server = EtcdServer(directory / "data", _free_port(), _free_port(), directory / "etcd.log", tls=files)
    server.launch()
    return server


def running_etcd(directory: Path, tls: bool = False) -> Iterator[EtcdServer]:
    """A started etcd under ``directory``, stopped afterwards; skip (or fail, see the module) without etcd."""
    if not available():
        message = f"etcd is not installed ({ETCD})"
        if os.environ.get("BALANCERD_E2E_REQUIRED"):
            pytest.fail(message + " and BALANCERD_E2E_REQUIRED is set")
        pytest.skip(message)
    server = start(directory, tls=tls)
    try:
        yield server
    finally:
        server.stop()


def key_prefix(name: str) -> str:
    """A prefix of its own for the test called ``name`` (a module's tests share one etcd)."""
    return "/t/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + "/"



# -- throw-away certificates (cryptography is imported only here: plain-http tests do not need it) -----------

_VALID = timedelta(days=2)
"""How long the test certificates are valid, counted from a day before now."""


def make_ca(directory: Path, name: str = "ca") -> tuple[Path, Path]:
    """A new self-signed CA written as ``directory/<name>.pem`` and ``directory/<name>-key.pem``; both paths."""
    cert, key = _new_ca(name)
    return _write_pair(directory, name, cert, key)


def make_tls(directory: Path) -> TlsFiles:
    """A CA, a server certificate for IP 127.0.0.1 and a client certificate signed by it, under ``directory``."""
    ca, ca_key = _new_ca("ca")
    ca_paths = _write_pair(directory, "ca", ca, ca_key)
    # etcd's HTTP gateway dials its own gRPC listener with the server's pair, so that one is a client too
    server = _write_pair(directory, "server", *_new_leaf("server", ca, ca_key, server=True))
    client = _write_pair(directory, "client", *_new_leaf("client", ca, ca_key, server=False))
    return TlsFiles(ca_paths[0], *server, *client)


def _new_ca(name: str) -> tuple[x509.Certificate, EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(f"balancerd test {name} {os.getpid()}")
    cert = (_builder(subject, subject, key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _new_leaf(name: str, ca: x509.Certificate, ca_key: EllipticCurvePrivateKey,
              server: bool) -> tuple[x509.Certificate, EllipticCurvePrivateKey]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
    builder = (_builder(_name(f"balancerd test {name}"), ca.subject, key)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(cert_sign=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _name(common_name: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key: EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    from cryptography import x509

    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + _VALID)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    from cryptography import x509

    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _write_pair(directory: Path, name: str, cert: x509.Certificate,
                key: EllipticCurvePrivateKey) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path
