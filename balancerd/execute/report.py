"""What one execution of a plan produced, and the seams the executor reports through.

The daemon receives an :class:`ExecutionReport` from :meth:`Executor.execute
<balancerd.execute.runner.Executor.execute>` and feeds it to the cycle report, the metrics and the logs;
``balancerd simulate`` sums it over a replay. :class:`Recorder` is the journal's side of the executor
(``balancerd.journal.Journal`` implements it) and :data:`Guard` the daemon's re-validation hook (ARCHITECTURE.md
rule 8). Kept apart from the runner so that callers can type against them without the polling loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from balancerd.backends.base import Check
from balancerd.model import Move, MoveResult, Outcome

Guard = Callable[[Move], str | None]
"""Re-validation right before a move starts: a reason to skip it, or None to go ahead."""

EventSink = Callable[[str, Move, MoveResult | None], None]
"""``on_event(kind, move, result)``; see :mod:`balancerd.execute.runner` for the kinds."""


class Recorder(Protocol):
    """Where the executor writes each move before it starts and after it ends (ARCHITECTURE.md rule 12)."""

    def migration_started(self, plan_id: int, move: Move, at: float) -> int:
        """Record that ``move`` is about to start; return the record id."""
        ...

    def migration_ended(self, record_id: int, result: MoveResult) -> None:
        """Record how the move of ``record_id`` ended."""
        ...

    def record_checks(self, record_id: int, checks: tuple[Check, ...]) -> None:
        """Record the pre-flight checks of the move of ``record_id``."""
        ...

    def record_skip(self, plan_id: int, move: Move, result: MoveResult, checks: tuple[Check, ...] = ()) -> None:
        """Record a move that was skipped before it started, with its checks."""
        ...


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One result per move of the plan, in plan order."""

    results: tuple[MoveResult, ...] = ()

    def count(self, outcome: Outcome) -> int:
        """How many moves ended with ``outcome``."""
        return sum(1 for result in self.results if result.outcome is outcome)

    def counts(self) -> dict[Outcome, int]:
        """Moves per outcome, every outcome present (zero included)."""
        return {outcome: self.count(outcome) for outcome in Outcome}

    @property
    def succeeded(self) -> int:
        return self.count(Outcome.SUCCEEDED)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED)

    @property
    def aborted(self) -> int:
        return self.count(Outcome.ABORTED)

    @property
    def skipped(self) -> int:
        return self.count(Outcome.SKIPPED)

    @property
    def bytes_transferred(self) -> int:
        """Data moved by every move, whatever its outcome."""
        return sum(result.bytes_transferred for result in self.results)
