"""The daemon's pid file, held under an exclusive lock for the daemon's whole life.

The daemon takes it at start (:func:`acquire`) and gives it back at exit (:func:`release`); ``balancerctl``
asks :func:`running_pid` before it signals the daemon or reports it running. The number in the file is only
believed while a process holds the file's lock and that process is balancerd: a pid file left by a daemon
killed with SIGKILL, or naming an unrelated process that reused the pid, means "not running", and a starting
daemon takes such a file over.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from balancerd.errors import StateError

log = structlog.get_logger("balancerd.pidfile")


@dataclass(frozen=True, slots=True)
class PidLock:
    """The open, locked pid file of this daemon."""

    path: Path
    fd: int


def acquire(path: Path) -> PidLock:
    """Lock the pid file and write our pid; refuse when a live balancerd holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StateError(f"cannot open pid file {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        other = _read_pid(path)
        raise StateError(f"balancerd already runs with pid {other} (it holds the lock on {path}); "
                         "stop it first") from exc
    _write_pid(path, fd)
    return PidLock(path, fd)


def _write_pid(path: Path, fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as exc:
        os.close(fd)
        raise StateError(f"cannot write pid file {path}: {exc.strerror or exc}") from exc


def release(lock: PidLock) -> None:
    """Remove the file and drop the lock (removal first: nobody sees an unlocked file naming us)."""
    try:
        lock.path.unlink(missing_ok=True)
    except OSError as exc:  # an unwritable state directory: the lock still goes with the descriptor
        log.warning("cannot remove pid file", path=str(lock.path), error=exc.strerror or str(exc),
                    hint="nobody holds its lock now, so balancerctl reports not running and the next start takes it")
    os.close(lock.fd)


def running_pid(path: Path) -> int | None:
    """The pid of the balancerd that holds the pid file's lock, or None (no file, nobody holds it, not us)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(path)
        return pid if pid is not None and _is_balancerd(pid) else None
    else:
        return None  # nobody holds it: a stale file
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _is_balancerd(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"balancerd" in cmdline
