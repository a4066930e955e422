"""Forecast error as it happens: forecasts made ``horizon`` observations ago against the usage seen now.

Called by :class:`balancerd.predict.predictor.Predictor`: it records the first forecast of every observation
and scores the one that has come due when a new snapshot is observed. The daemon exports the result
(:class:`~balancerd.model.ForecastError`) to Prometheus through the cycle report.
"""

from __future__ import annotations

from collections import deque

from balancerd.model import ClusterSnapshot, Forecast, ForecastError, Resources, VmForecast


class ErrorTracker:
    """Pending forecasts, keyed by the observation they were made at."""

    def __init__(self) -> None:
        self._pending: deque[tuple[int, int, Forecast]] = deque()
        self._latest: tuple[ForecastError, ...] = ()

    def record(self, observation: int, horizon: int, forecast: Forecast) -> None:
        """Keep ``forecast`` (made after ``observation``) until observation + ``horizon`` comes."""
        if self._pending and self._pending[-1][0] == observation:
            return
        self._pending.append((observation, horizon, forecast))

    def score(self, observation: int, snapshot: ClusterSnapshot) -> tuple[ForecastError, ...]:
        """Compare the forecasts due at ``observation`` with ``snapshot``; drop older ones."""
        while self._pending and self._pending[0][0] + self._pending[0][1] < observation:
            self._pending.popleft()
        if self._pending and self._pending[0][0] + self._pending[0][1] == observation:
            _, _, forecast = self._pending.popleft()
            self._latest = compare(forecast, snapshot)
        return self._latest

    @property
    def latest(self) -> tuple[ForecastError, ...]:
        return self._latest


def compare(forecast: Forecast, snapshot: ClusterSnapshot) -> tuple[ForecastError, ...]:
    """MAE and upper coverage per resource over the VMs both in ``forecast`` and running in ``snapshot``."""
    actual = {vm.name: vm.usage for vm in snapshot.vms if vm.running}
    pairs = [(f, actual[f.vm]) for f in forecast.vms if f.vm in actual]
    if not pairs:
        return ()
    return tuple(
        ForecastError(resource, forecast.horizon_s, _mae(pairs, resource), _coverage(pairs, resource), len(pairs))
        for resource in ("cpu", "memory")
    )


def _value(resources: Resources, resource: str) -> int:
    return resources.cpu_m if resource == "cpu" else resources.mem_mib


def _mae(pairs: list[tuple[VmForecast, Resources]], resource: str) -> float:
    return sum(abs(_value(f.point, resource) - _value(a, resource)) for f, a in pairs) / len(pairs)


def _coverage(pairs: list[tuple[VmForecast, Resources]], resource: str) -> float:
    return sum(_value(a, resource) <= _value(f.upper, resource) for f, a in pairs) / len(pairs)
