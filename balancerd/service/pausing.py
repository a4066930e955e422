"""The operator's kill switch: a pause made through the control API, kept across restarts, and the pause file.

The daemon (:mod:`balancerd.service.daemon`) loads the saved pause at start and asks :func:`file_reason`
before every move start (through the cycle's guard) and every cycle; the control API
(:mod:`balancerd.service.control`) saves and clears it. Either source pauses: no new migration starts.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from balancerd.errors import StateError


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
