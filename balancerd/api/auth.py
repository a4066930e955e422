"""Who may ask what: peer credentials on the Unix socket, a bearer token over TCP.

Called by :mod:`balancerd.api.app`'s middleware for every request, before the route is looked at. On the Unix
socket (:class:`PeerAuth`) anyone who can open the socket (its mode and group decide) may read; a mutating
call (``POST``) needs root, or the daemon's own user when it does not run as root, else 403. Over TCP
(:class:`TokenAuth`) every route needs ``Authorization: Bearer TOKEN`` matching ``[control] token_file``
(compared in constant time), else 401; the caller is then the token holder.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import web

from balancerd.api import peercred
from balancerd.api.errors import RequestError
from balancerd.api.protocol import Caller
from balancerd.errors import ConfigError


class Authenticator(Protocol):
    """Decides who the caller of a request is, or refuses it (RequestError 401 / 403)."""

    def caller(self, request: web.Request, mutating: bool) -> Caller:
        """The caller of ``request``; ``mutating``: the request would change the daemon's state."""
        ...


@dataclass(frozen=True, slots=True)
class PeerAuth:
    """The Unix socket: the kernel's peer credentials; ``admins`` are the uids that may mutate."""

    admins: frozenset[int]

    @classmethod
    def default(cls) -> PeerAuth:
        """Root and the user the daemon runs as."""
        return cls(frozenset({0, os.geteuid()}))

    def caller(self, request: web.Request, mutating: bool) -> Caller:
        transport = request.transport
        peer = peercred.peer_of(transport.get_extra_info("socket") if transport is not None else None)
        if mutating and peer.uid not in self.admins:
            raise RequestError(f"uid {peer.uid} may only read: changing the daemon's state needs root", status=403)
        return Caller(uid=peer.uid, pid=peer.pid, via="unix")


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """The TCP listener: a bearer token for every route."""

    token: bytes

    def caller(self, request: web.Request, mutating: bool) -> Caller:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise RequestError("missing bearer token: send 'Authorization: Bearer TOKEN'", status=401)
        if not hmac.compare_digest(given.strip().encode(), self.token):
            raise RequestError("wrong bearer token", status=401)
        return Caller(uid=None, via="tcp")


def load_token(path: str) -> bytes:
    """The token in ``[control] token_file`` (surrounding whitespace dropped); ConfigError if unusable."""
    try:
        token = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError("control.token_file", path, f"must be a readable file ({exc.strerror})") from exc
    if not token:
        raise ConfigError("control.token_file", path, "must hold a token (the file is empty)")
    return token
