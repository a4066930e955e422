"""The workload of ``balancerd simulate``: a trace as a VM x step matrix of CPU %, cut to a common length.

Called by :mod:`balancerd.simulate.cli` (``--trace FORMAT:PATH``, ``--days``) and, through it, by
``benchmarks/simulate_planetlab.py``; the replay (:mod:`balancerd.simulate.cluster`) reads the returned
:class:`Workload`. The file is read by :func:`~balancerd.traces.formats.read`; here every series is cut to the
shortest one (and to ``days`` when given) and clipped to 0..100. Problems raise
:class:`~balancerd.errors.ConfigError` for the key ``--trace`` (or ``--days``), naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from balancerd.errors import ConfigError, TraceError
from balancerd.traces.formats import FORMATS, read
from balancerd.traces.values import Floats, Recorded

_KEY = "--trace"
_ALLOWED = "use planetlab:DIR, bitbrains:DIR or wide-csv:FILE"
DAY_S = 86_400


@dataclass(frozen=True, slots=True, eq=False)
class Workload:
    """CPU utilisation in percent (0..100), one row per VM and one column per step of ``step_s`` seconds."""

    names: tuple[str, ...]
    step_s: int
    percent: Floats
    source: str

    @property
    def steps(self) -> int:
        return int(self.percent.shape[1])

    @property
    def seconds(self) -> int:
        return self.steps * self.step_s


def load_workload(spec: str, days: float | None = None, step_s: int = 300) -> Workload:
    """The workload named by ``spec`` (``FORMAT:PATH``), cut to ``days`` days when given."""
    fmt, _, where = spec.partition(":")
    if not where or fmt not in FORMATS:
        raise ConfigError(_KEY, spec, _ALLOWED)
    try:
        recorded = read(fmt, Path(where))
    except TraceError as exc:
        raise ConfigError(_KEY, spec, str(exc)) from exc
    _refuse_gaps(spec, recorded)
    length = _length(recorded, step_s, days)
    matrix = np.clip(np.stack([vm.cpu_pct[:length] for vm in recorded.vms]), 0.0, 100.0)
    return Workload(names=recorded.names, step_s=step_s, percent=matrix, source=spec)


def _refuse_gaps(spec: str, recorded: Recorded) -> None:
    """The replay needs a value at every step (a wide CSV may leave cells empty)."""
    for index, vm in enumerate(recorded.vms):
        gaps = np.flatnonzero(np.isnan(vm.cpu_pct))
        if len(gaps):
            step = recorded.labels(index)[int(gaps[0])]
            raise ConfigError(_KEY, spec, f"{recorded.source}: VM {vm.name!r} has no value at step {step!r}; "
                              "the replay needs a CPU % in every cell")


def _length(recorded: Recorded, step_s: int, days: float | None) -> int:
    """The shortest series, or ``days`` days of steps when that is shorter."""
    length = min(vm.steps for vm in recorded.vms)
    if days is None:
        return length
    if days <= 0:
        raise ConfigError("--days", days, "must be a positive number of days")
    return min(length, max(1, round(days * DAY_S / step_s)))
