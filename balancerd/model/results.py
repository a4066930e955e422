"""What happened: each move's result and each cycle's report (``balancerd.model``).

The executor returns :class:`MoveResult`; the cycle builds :class:`CycleReport` for the metrics and the status.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from balancerd.model.cluster import ClusterSnapshot
from balancerd.model.forecast import ForecastError
from balancerd.model.moves import Move, Plan
from balancerd.model.resources import ZERO, Resources


class Outcome(enum.StrEnum):
    """How one move ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ExternalMove:
    """A VM that changed host between two collections without a balancerd move (another tool, a person)."""

    vm: str
    source: str
    dest: str
    seen_at: float


@dataclass(frozen=True, slots=True)
class MoveResult:
    """What happened to one move."""

    move: Move
    outcome: Outcome
    started_at: float
    finished_at: float
    detail: str = ""
    downtime_ms: int | None = None
    bytes_transferred: int = 0

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


@dataclass(frozen=True, slots=True)
class HostUtilisation:
    """Load / capacity of one host per resource, as fractions (1.0 = full)."""

    host: str
    cpu: float
    memory: float


@dataclass(frozen=True, slots=True)
class CycleReport:
    """Everything one cycle did: what observability exports and ``balancerctl status`` shows."""

    cycle: int
    mode: str
    started_at: float
    duration_s: float
    snapshot: ClusterSnapshot
    plan: Plan
    results: tuple[MoveResult, ...]
    utilisation: tuple[HostUtilisation, ...]
    imbalance: float
    drain_remaining: tuple[tuple[str, int], ...] = ()
    errors: tuple[str, ...] = ()
    forecast_errors: tuple[ForecastError, ...] = ()
    usage_total: Resources = ZERO
    """Measured usage of all running VMs now."""
    forecast_point: Resources = ZERO
    """Forecast usage of all running VMs one horizon ahead (point), and its upper quantile below."""
    forecast_upper: Resources = ZERO
    external_moves: tuple[ExternalMove, ...] = ()
    """VMs that changed host since the previous cycle without a balancerd move."""
    waiting: tuple[str, ...] = ()
    """Why some moves may not start now: a blackout window, the back-off after external moves."""
    capped: tuple[tuple[str, int], ...] = ()
    """VMs at ``[policy] max_moves_per_vm_per_day``, with their moves in the last 24 hours."""
