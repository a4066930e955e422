"""Value types that cross every stage boundary of the pipeline (ARCHITECTURE.md rule 2).

Everything the collector, predictor, optimizer, executor, journal and daemon hand to each other is one of
these frozen dataclasses; ``balancerd.model`` is the one import path (the modules below each hold one part).
Units are integers: CPU in millicores (1000 = one core), memory in MiB, data in bytes, durations in
milliseconds where a field says ``_ms``. Timestamps are float seconds from the injected
:class:`~balancerd.clock.Clock`.

Nothing here does I/O; every module may import it.
"""

from __future__ import annotations

from balancerd.model.cluster import ClusterSnapshot, FailureRecord, Host, InFlight, Vm
from balancerd.model.forecast import Forecast, ForecastError, VmForecast
from balancerd.model.moves import (
    Blocker,
    Candidate,
    Evacuation,
    EvacuationStep,
    Move,
    MoveKind,
    Placement,
    Plan,
    Purpose,
    Restore,
    RestoreProgress,
    Skip,
)
from balancerd.model.resources import POOL_PREFIX, ZERO, Extra, Resources
from balancerd.model.results import CycleReport, ExternalMove, HostUtilisation, MoveResult, Outcome

__all__ = [
    "POOL_PREFIX", "ZERO", "Blocker", "Candidate", "ClusterSnapshot", "CycleReport", "Evacuation", "EvacuationStep",
    "ExternalMove", "Extra", "FailureRecord", "Forecast", "ForecastError", "Host", "HostUtilisation",
    "InFlight", "Move", "MoveKind", "MoveResult", "Outcome", "Placement", "Plan", "Purpose", "Resources", "Restore",
    "RestoreProgress", "Skip", "Vm", "VmForecast",
]
