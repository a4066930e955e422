"""Opening libvirt connections to lab hosts from the root namespace (per-host unix sockets).

Used by daemons.py (readiness, networks, pools, capabilities), guests.py and status.py. The only lab
module that imports libvirt besides those callers' type hints; every libvirtError becomes a LabError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import libvirt

from balancerd.lab.errors import LabError


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless a handler is registered; we raise instead."""


libvirt.registerErrorHandler(_silence, None)

Error = libvirt.libvirtError


def open_conn(uri: str) -> Any:
    """A read-write connection, or LabError."""
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise LabError(f"cannot connect to {uri}: {exc}") from exc


@contextlib.contextmanager
def connection(uri: str) -> Iterator[Any]:
    """A connection that is closed on exit."""
    conn = open_conn(uri)
    try:
        yield conn
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()


def try_hostname(uri: str) -> str | None:
    """The daemon's hostname, or None while it is not answering yet."""
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return None
    try:
        return str(conn.getHostname())
    except libvirt.libvirtError:
        return None
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()


STATE_NAMES = {
    libvirt.VIR_DOMAIN_NOSTATE: "nostate",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}
