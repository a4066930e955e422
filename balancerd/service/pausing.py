"""The operator's kill switch: a pause made through the control API, kept across restarts, and the pause file.

The daemon (:mod:`balancerd.service.daemon`) holds one :class:`KillSwitch`: it loads the saved pause at start
and is asked before every move start (through the cycle's guard) and every cycle; the control API
(:mod:`balancerd.service.control`) sets and clears it. Either source pauses: no new migration starts. With
``[ha]`` an API pause is cluster-wide (kept in etcd, :mod:`balancerd.service.heads`), so a pause on any head
stops the leader; if etcd does not take it, it is kept on this head's file instead and the answer says so.
The pause file pauses the head it is on.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from balancerd.config.schema import ControlConfig
from balancerd.errors import BalancerdError, CoordinationError, StateError


@dataclass(frozen=True, slots=True)
class Pause:
    """Who paused through the API, when, and whether running migrations were aborted."""

    by: str
    at: float
    abort_running: bool = False

    def reason(self) -> str:
        return f"paused by {self.by}"


def load(path: Path) -> Pause | None:
    """The saved pause, or None; an unreadable file is a StateError naming it (the daemon then stays paused)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Pause(str(data["by"]), float(data["at"]), bool(data.get("abort_running", False)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(f"pause state {path} cannot be read ({exc}); delete it to resume") from exc


def save(path: Path, pause: Pause) -> None:
    """Write the pause atomically so that a restart keeps it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".paused.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(pause), handle)
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(f"cannot write pause state {path}: {exc}") from exc


def clear(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StateError(f"cannot remove pause state {path}: {exc}") from exc


def file_reason(path: Path) -> str | None:
    """Why the pause file pauses the daemon (it exists), or None."""
    return f"paused by the pause file {path}" if path.exists() else None


class SharedPause(Protocol):
    """Where a cluster-wide pause lives (``[ha]``: etcd through :class:`~balancerd.service.heads.Heads`)."""

    def pause(self) -> Pause | None: ...

    def set_pause(self, pause: Pause | None) -> None: ...


class KillSwitch:
    """The daemon's pause: the API pause (this head's file, or cluster-wide), an unreadable one, the pause file."""

    def __init__(self, control: ControlConfig, shared: SharedPause | None = None) -> None:
        self._control = control
        self._shared = shared
        self._local: Pause | None = None
        self._error = ""

    def load(self) -> str:
        """Read the saved pause; what went wrong ("" if nothing: an unreadable one keeps the daemon paused)."""
        try:
            self._local = load(self._control.pause_state)
        except BalancerdError as exc:
            self._error = str(exc)
        return self._error

    def reason(self) -> str | None:
        """Why no new migration may start now, or None."""
        pause = self.current()
        if pause is not None:
            return pause.reason()
        if self._error:
            return f"paused: {self._error}"
        return file_reason(self._control.pause_file)

    def current(self) -> Pause | None:
        shared = self._shared.pause() if self._shared is not None else None
        return self._local or shared

    def set(self, pause: Pause | None) -> str:
        """Keep (or clear) an API pause; a warning when it could only be kept on this head ("" otherwise)."""
        warning = ""
        if self._shared is not None:
            try:
                self._shared.set_pause(pause)
                pause_here = None
            except CoordinationError as exc:
                pause_here = pause
                warning = (f"etcd did not take it ({exc}): " + ("the pause holds on this head only"
                           if pause is not None else "a cluster-wide pause stays until etcd answers"))
        else:
            pause_here = pause
        if pause_here is None:
            clear(self._control.pause_state)
        else:
            save(self._control.pause_state, pause_here)
        self._local, self._error = pause_here, ""
        return warning

    def fields(self) -> dict[str, Any]:
        """The pause's part of the status file."""
        reason, pause = self.reason(), self.current()
        return {"paused": reason is not None, "paused_reason": reason,
                "paused_by": pause.by if pause is not None else None,
                "paused_at": pause.at if pause is not None else None,
                "pause_file": str(self._control.pause_file)}
