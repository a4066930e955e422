"""The one throttle every kind of move goes through (ARCHITECTURE.md rule 7).

The :class:`~balancerd.execute.runner.Executor` owns one :class:`Throttle` for its whole life and asks it,
before starting a move, whether the source has an outgoing slot, the destination an incoming slot, the
cluster a free slot, and whether the rolling hourly budget of started migrations allows one more. Because
the throttle outlives a single plan, the hourly budget spans cycles. Time comes from the injected clock.
"""

from __future__ import annotations

from collections import Counter, deque

from balancerd.clock import Clock
from balancerd.config import ThrottleConfig

BUDGET_WINDOW_S = 3600.0


class Throttle:
    """Slots per host (in and out), a cluster-wide cap and a rolling budget of started migrations.

    Not thread-safe: the executor calls it under its own lock.
    """

    def __init__(self, config: ThrottleConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._out: Counter[str] = Counter()
        self._in: Counter[str] = Counter()
        self._running = 0
        self._starts: deque[float] = deque()

    def reconfigure(self, config: ThrottleConfig) -> None:
        """New limits from now on; slots held and the budget already spent stay counted."""
        self._config = config

    @property
    def running(self) -> int:
        """How many moves hold slots now."""
        return self._running

    def slots_free(self, source: str, dest: str) -> bool:
        """True when ``source`` may send, ``dest`` may receive and the cluster cap is not reached."""
        return (
            self._running < self._config.cluster_max
            and self._out[source] < self._config.per_host_out
            and self._in[dest] < self._config.per_host_in
        )

    def budget_left(self) -> int:
        """Migrations that may still start within the rolling hour ending now."""
        self._forget_old_starts()
        return max(0, self._config.migrations_per_hour - len(self._starts))

    def acquire(self, source: str, dest: str) -> None:
        """Take the slots of one move and spend one unit of the hourly budget.

        Callers check :meth:`slots_free` and :meth:`budget_left` first; acquiring beyond them is a bug.
        """
        if not self.slots_free(source, dest) or self.budget_left() == 0:
            raise RuntimeError(f"throttle: no slot or budget for {source} -> {dest}")
        self._out[source] += 1
        self._in[dest] += 1
        self._running += 1
        self._starts.append(self._clock.now())

    def release(self, source: str, dest: str) -> None:
        """Give back the slots of a move that ended (the budget unit stays spent)."""
        if self._out[source] <= 0 or self._in[dest] <= 0:
            raise RuntimeError(f"throttle: release without acquire for {source} -> {dest}")
        self._out[source] -= 1
        self._in[dest] -= 1
        self._running -= 1

    def refund(self, source: str, dest: str) -> None:
        """Give back the slots and the budget unit of a move reserved but never started."""
        self.release(source, dest)
        if self._starts:
            self._starts.pop()

    def _forget_old_starts(self) -> None:
        horizon = self._clock.now() - BUDGET_WINDOW_S
        while self._starts and self._starts[0] <= horizon:
            self._starts.popleft()
