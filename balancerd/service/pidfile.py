"""The daemon's pid file: written at start, removed at exit, read by ``balancerctl`` to signal it."""

from __future__ import annotations

import os
from pathlib import Path

from balancerd.errors import StateError


def running_pid(path: Path) -> int | None:
    """PID in the file if that process is alive, else None."""
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def acquire(path: Path) -> None:
    """Write our PID; refuse when another live daemon holds the file."""
    other = running_pid(path)
    if other is not None and other != os.getpid():
        raise StateError(f"balancerd already runs with pid {other} (pid file {path}); stop it first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{os.getpid()}\n", encoding="utf-8")
    except OSError as exc:
        raise StateError(f"cannot write pid file {path}: {exc}") from exc


def release(path: Path) -> None:
    """Remove the file if it is ours."""
    if running_pid(path) == os.getpid():
        path.unlink(missing_ok=True)
