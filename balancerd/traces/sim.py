"""The trace that drives the simulated backend's VMs: ``sim.trace`` = ``"bundled"`` or ``"planetlab:DIR"``.

Called by :mod:`balancerd.backends.sim.fromconfig` (``SimCluster.from_config``: the demo, ``balancerd plan`` and
``run`` on ``backend = "sim"``), by tests and by ``benchmarks/optimizer_scale.py``. Turns what
:mod:`~balancerd.traces.bundled` or :mod:`~balancerd.traces.planetlab` read into a :class:`Trace` of integer
percentages that repeats after its end. Every problem raises :class:`~balancerd.errors.ConfigError` for the
key ``sim.trace`` whose message names the file and the line.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from balancerd.errors import ConfigError, TraceError
from balancerd.traces.bundled import read_bundled
from balancerd.traces.planetlab import read_planetlab
from balancerd.traces.values import Recorded

_KEY = "sim.trace"
_ALLOWED_SPECS = "use 'bundled' or 'planetlab:DIR' (a folder of PlanetLab CPU files)"
_PLANETLAB = "planetlab:"

_Series = tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]


@dataclass(frozen=True, slots=True)
class Trace:
    """CPU demand in percent (0..100) per step of ``step_s`` seconds, one series per VM."""

    names: tuple[str, ...]
    step_s: int
    series: tuple[tuple[int, ...], ...]

    def __len__(self) -> int:
        return len(self.series)

    def value(self, index_vm: int, t_s: float) -> int:
        """The percentage of series ``index_vm`` at ``t_s`` seconds; the series repeats after its end."""
        values = self.series[index_vm]
        return values[math.floor(t_s / self.step_s) % len(values)]


def load_trace(spec: str, step_s: int = 300) -> Trace:
    """The trace named by ``spec`` (``"bundled"`` or ``"planetlab:DIR"``) with steps of ``step_s`` seconds."""
    if step_s <= 0:
        raise ConfigError("sim.trace_step_s", step_s, "must be a positive number of seconds")
    if spec == "bundled":
        names, series = _bundled()
    elif spec.startswith(_PLANETLAB) and spec.removeprefix(_PLANETLAB):
        names, series = _integers(_planetlab(spec))
    else:
        raise ConfigError(_KEY, spec, _ALLOWED_SPECS)
    return Trace(names=names, step_s=step_s, series=series)


@functools.lru_cache(maxsize=1)
def _bundled() -> _Series:
    """The bundled extract as integer tuples, converted once per process."""
    try:
        return _integers(read_bundled())
    except TraceError as exc:
        raise ConfigError(_KEY, "bundled", str(exc)) from exc


def _planetlab(spec: str) -> Recorded:
    try:
        return read_planetlab(Path(spec.removeprefix(_PLANETLAB)))
    except TraceError as exc:
        raise ConfigError(_KEY, spec, str(exc)) from exc


def _integers(recorded: Recorded) -> _Series:
    """Names and integer series (the readers of these formats accept integers only)."""
    series = tuple(tuple(int(v) for v in vm.cpu_pct.tolist()) for vm in recorded.vms)
    return recorded.names, series
