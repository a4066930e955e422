"""The control socket's file: where it is, who may open it, and a stale one from a dead daemon.

Called by :class:`balancerd.api.server.ApiServer` when it starts and stops. :func:`bind` returns a listening
``AF_UNIX`` socket whose file has mode 0660, owner root (the daemon's user when it does not run as root) and
the group ``[control] group`` names; its parent directory is created (0755) when missing. The mode and the
group are set between ``bind`` and ``listen``, so nobody can connect before they hold. A socket file left by
a dead daemon (connecting is refused) is replaced; one a live process answers on is not: that is an error.
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from balancerd.api.errors import ApiError
from balancerd.errors import ConfigError

SOCKET_MODE = 0o660
DIR_MODE = 0o755
_MAX_PATH_BYTES = 107  # sizeof(sun_path) - 1 on Linux
_PROBE_TIMEOUT_S = 1.0

log = structlog.get_logger("balancerd.api")


@dataclass(frozen=True, slots=True)
class Bound:
    """A listening socket and the identity of the file it was bound to (to remove only our own file)."""

    sock: socket.socket
    path: Path
    device: int
    inode: int


def group_id(name: str) -> int:
    """The gid for ``[control] group``: root's group (0) when empty; ConfigError for an unknown group."""
    if not name:
        return 0
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError as exc:
        raise ConfigError("control.group", name, "no such group on this host; name an existing group, "
                          "or leave it empty for root's group") from exc


def bind(path: Path, gid: int, backlog: int = 64) -> Bound:
    """A listening socket at ``path`` (mode 0660, group ``gid``), replacing a stale socket file."""
    if len(os.fsencode(path)) > _MAX_PATH_BYTES:
        raise ConfigError("control.socket", str(path), f"a Unix socket path has at most {_MAX_PATH_BYTES} bytes")
    _make_parent(path.parent)
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        info = _bind_restricted(sock, path, gid, backlog)
    except BaseException:
        sock.close()
        _unlink_quietly(path)
        raise
    sock.setblocking(False)
    return Bound(sock=sock, path=path, device=info.st_dev, inode=info.st_ino)


def remove(bound: Bound) -> None:
    """Close the socket and remove its file, unless another server has replaced the file since."""
    bound.sock.close()
    try:
        info = os.lstat(bound.path)
    except FileNotFoundError:
        return
    if (info.st_dev, info.st_ino) != (bound.device, bound.inode):
        return
    try:
        _unlink_quietly(bound.path)
    except OSError as exc:  # an unwritable directory: the next start replaces the stale file
        log.warning("cannot remove control socket", path=str(bound.path), error=exc.strerror or str(exc),
                    hint="the next start replaces the stale socket file")


def answers(path: Path, timeout_s: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether a process accepts connections on the socket at ``path`` (refused or missing: False)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(timeout_s)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError as exc:
        raise ApiError(f"cannot tell whether a daemon answers on {path}: {exc.strerror or exc}") from exc
    finally:
        probe.close()
    return True


def _make_parent(parent: Path) -> None:
    if parent.is_dir():
        return
    try:
        parent.mkdir(parents=True)
        os.chmod(parent, DIR_MODE)
    except OSError as exc:
        raise ApiError(f"cannot create the control socket's directory {parent}: {exc.strerror}") from exc


def _clear_stale(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ApiError(f"{path} exists and is not a socket; remove it or set control.socket to another path")
    if answers(path):
        raise ApiError(f"another process answers on the control socket {path} (a running balancerd?); "
                       "stop it first, or set control.socket to another path")
    _unlink_quietly(path)


def _bind_restricted(sock: socket.socket, path: Path, gid: int, backlog: int) -> os.stat_result:
    """Bind ``sock`` to ``path``, give the file its mode and group, then listen (nobody connects before)."""
    try:
        sock.bind(os.fspath(path))
        os.chmod(path, SOCKET_MODE)
    except OSError as exc:
        raise ApiError(f"cannot serve the control socket {path}: {exc.strerror or exc}") from exc
    try:
        os.chown(path, 0 if os.geteuid() == 0 else -1, gid)
    except OSError as exc:
        raise ApiError(f"cannot give the control socket {path} to gid {gid} (control.group): "
                       f"{exc.strerror or exc}") from exc
    try:
        sock.listen(backlog)
        return os.lstat(path)
    except OSError as exc:
        raise ApiError(f"cannot listen on the control socket {path}: {exc.strerror or exc}") from exc


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
