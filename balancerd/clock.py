"""Time, injected (ARCHITECTURE.md rule 10).

The daemon, the executor and the simulated backend ask a :class:`Clock` for the time and for waiting, so
tests drive them with :class:`FakeClock` and never sleep. :class:`ScaledClock` runs simulated time faster
than the wall clock for the demo.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> float:
        """Seconds since the epoch (or since the simulation started)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than the wall clock, from ``start``."""

    def __init__(self, start: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start
        self._speed = speed
        self._wall0 = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._start + (time.monotonic() - self._wall0) * self._speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self._speed)


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it at once. Thread-safe."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def poll_until(clock: Clock, timeout_s: float, interval_s: float, done: _Predicate) -> bool:
    """Call ``done()`` every ``interval_s`` until true or ``timeout_s`` passed; return whether it was."""
    deadline = clock.now() + timeout_s
    while True:
        if done():
            return True
        if clock.now() >= deadline:
            return False
        clock.sleep(interval_s)


class _Predicate(Protocol):
    def __call__(self) -> bool: ...
