"""The predictor the daemon calls each cycle: observe a snapshot, then forecast every VM.

Wraps :class:`~balancerd.predict.history.History` and a baseline method chosen by config (``last`` or
``ewma``). The scikit-learn forecaster will plug in here as another method; EWMA stays the fallback for
VMs with little history.
"""

from __future__ import annotations

from balancerd.config import PredictConfig
from balancerd.model import ClusterSnapshot, Forecast, VmForecast
from balancerd.predict.baseline import ewma, last_value
from balancerd.predict.history import History


class Predictor:
    """History plus a forecasting method."""

    def __init__(self, config: PredictConfig, horizon_s: int) -> None:
        self._config = config
        self._horizon_s = horizon_s
        self._history = History(config.history)

    def reconfigure(self, config: PredictConfig) -> None:
        """Take a new method or alpha (history length changes need a restart)."""
        self._config = config

    def observe(self, snapshot: ClusterSnapshot) -> None:
        self._history.observe(snapshot)

    def forecast(self) -> Forecast:
        """Forecast every VM with history."""
        vms = tuple(self._one(name) for name in self._history.vms())
        return Forecast(self._horizon_s, vms, self._config.method)

    def _one(self, vm: str) -> VmForecast:
        series = self._history.series(vm)
        if self._config.method == "last" or len(series) < 2:
            point, upper = last_value(series)
        else:
            point, upper = ewma(series, self._config.alpha)
        return VmForecast(vm, point, upper)
