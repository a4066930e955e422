"""Who is on the other end of a Unix socket: ``SO_PEERCRED`` (Linux).

Called by :mod:`balancerd.api.auth` for every request on the control socket: the peer's uid decides whether
a mutating call is allowed, and its uid and pid name the caller in the journal. The kernel records the
credentials when the peer connects, so a client cannot claim another identity.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

from balancerd.api.errors import RequestError

_UCRED = struct.Struct("3i")  # struct ucred: pid_t pid, uid_t uid, gid_t gid


@dataclass(frozen=True, slots=True)
class Peer:
    """The connecting process: its pid, uid and gid when it connected."""

    pid: int
    uid: int
    gid: int


def peer_of(sock: Any) -> Peer:
    """The credentials of ``sock``'s peer (a socket or asyncio's TransportSocket); RequestError (403) if unknown."""
    if sock is None or getattr(sock, "family", None) != socket.AF_UNIX:
        raise RequestError("the peer's credentials are unknown (not a Unix socket)", status=403)
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except OSError as exc:
        raise RequestError(f"the peer's credentials are unknown: {exc.strerror}", status=403) from exc
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid=pid, uid=uid, gid=gid)
