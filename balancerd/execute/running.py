"""The executor's private records: a started move, how it ended, one ``execute`` call's plan and guard.

Only :mod:`balancerd.execute.runner` and :mod:`balancerd.execute.watch` use these; they live apart to keep the
polling loop readable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from balancerd.backends.base import JobState, JobStats
from balancerd.execute.convergence import Convergence, Escalation
from balancerd.execute.order import HostOrder
from balancerd.execute.report import Guard
from balancerd.model import Move, MoveResult, Outcome, Plan


@dataclass(slots=True)
class Running:
    """Loop-private state of one started move."""

    move: Move
    record_id: int
    started_at: float
    deadline_s: float
    conv: Convergence | None = None
    escalation: Escalation = Escalation()
    abort_requested_at: float | None = None
    abort_sent: bool = False
    abort_reason: str = ""


@dataclass(frozen=True, slots=True)
class End:
    """How a running move ended, before it becomes a MoveResult."""

    outcome: Outcome
    detail: str
    stats: JobStats | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """What one ``execute`` call works on."""

    serial: int
    plan: Plan
    plan_id: int
    guard: Guard
    stop: threading.Event
    order: HostOrder
    epoch: int


def final_end(stats: JobStats, run: Running) -> End:
    """The outcome a final job state means; a job that stopped after our abort counts as aborted."""
    if stats.state is JobState.COMPLETED:
        return End(Outcome.SUCCEEDED, "", stats)
    if run.abort_requested_at is not None:
        return End(Outcome.ABORTED, f"{run.abort_reason}; aborted, VM stays on source", stats)
    if stats.state is JobState.ABORTED:
        return End(Outcome.ABORTED, f"aborted by someone else: {stats.error}".rstrip(": "), stats)
    return End(Outcome.FAILED, f"migration failed: {stats.error or 'no reason given'}", stats)


def result_of(move: Move, end: End, started_at: float, finished_at: float) -> MoveResult:
    """The MoveResult of ``move`` that ended as ``end`` (downtime and bytes from its last job stats)."""
    stats = end.stats
    return MoveResult(
        move=move, outcome=end.outcome, started_at=started_at, finished_at=finished_at, detail=end.detail,
        downtime_ms=stats.downtime_ms if stats is not None else None,
        bytes_transferred=stats.data_processed if stats is not None else 0,
    )
