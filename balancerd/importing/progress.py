"""How an import shows its progress: a bar per step on a TTY (tqdm: bytes converted or uploaded, rate, ETA),
JSON lines with ``--json``, nothing otherwise (the log says what happened).

Called by :mod:`balancerd.importing.run`, which announces each step (:meth:`Progress.begin`), reports bytes
(:meth:`Progress.advance`) and ends it; :meth:`Progress.event` carries the steps without a size (defined,
started, cleaned up).
"""

from __future__ import annotations

import json
from typing import Any, Protocol, TextIO

from tqdm import tqdm


class Progress(Protocol):
    def begin(self, step: str, item: str, total: int) -> None: ...

    def advance(self, done: int) -> None:
        """``done`` bytes of the current step so far (not a delta)."""
        ...

    def end(self) -> None: ...

    def event(self, name: str, **fields: Any) -> None: ...


class Quiet:
    """No progress shown."""

    def begin(self, step: str, item: str, total: int) -> None:
        return None

    def advance(self, done: int) -> None:
        return None

    def end(self) -> None:
        return None

    def event(self, name: str, **fields: Any) -> None:
        return None


class Bars:
    """One tqdm bar per step on ``stream`` (a TTY)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: tqdm[Any] | None = None

    def begin(self, step: str, item: str, total: int) -> None:
        self._bar = tqdm(total=total, desc=f"{step} {item}", unit="B", unit_scale=True, unit_divisor=1024,
                         file=self._stream, leave=True)

    def advance(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(max(0, done - self._bar.n))

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def event(self, name: str, **fields: Any) -> None:
        """A line of its own; above the bar while one is shown (virt-v2v's stages come during its convert bar)."""
        details = " ".join(f"{k}={v}" for k, v in fields.items())
        tqdm.write(f"{name} {details}", file=self._stream)


class JsonEvents:
    """One JSON object per line on ``stream``: ``{"event": "progress", "step", "item", "done", "total"}`` at
    most once per percent, and the other events with their fields."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._step = ("", "", 0)
        self._shown = -1

    def begin(self, step: str, item: str, total: int) -> None:
        self._step, self._shown = (step, item, total), -1
        self.advance(0)

    def advance(self, done: int) -> None:
        step, item, total = self._step
        percent = 100 * done // total if total else 100
        if percent > self._shown:
            self._shown = percent
            self.event("progress", step=step, item=item, done=done, total=total)

    def end(self) -> None:
        step, item, total = self._step
        if self._shown < 100:
            self.event("progress", step=step, item=item, done=total, total=total)
            self._shown = 100

    def event(self, name: str, **fields: Any) -> None:
        self._stream.write(json.dumps({"event": name, **fields}) + "\n")
        self._stream.flush()
