"""The predictor the daemon calls each cycle: observe a snapshot, then forecast every VM.

:class:`Predictor` owns the history ring buffers, the current models and the forecast-error tracker. The
cycle calls :meth:`~Predictor.observe` and :meth:`~Predictor.forecast`; the daemon calls
:meth:`~Predictor.retrain` on a schedule from a worker thread. Retraining copies the history under a lock,
trains without it and swaps the models in one assignment, so a forecast running meanwhile uses either the
old models or the new ones, never a mix. ``method`` ``last`` / ``ewma`` use only the baselines; ``model``
uses the learned models with EWMA as the fallback.
"""

from __future__ import annotations

import dataclasses
import threading

from balancerd.config import PredictConfig
from balancerd.model import ClusterSnapshot, Forecast, ForecastError
from balancerd.predict import inference
from balancerd.predict.history import History
from balancerd.predict.tracking import ErrorTracker
from balancerd.predict.training import Models, TrainReport, train


class Predictor:
    """History, models and forecast error of one daemon.

    ``step_s`` is the time between observations (the cycle interval): it turns ``horizon_s`` into steps.
    """

    def __init__(self, config: PredictConfig, step_s: float) -> None:
        self._config = config
        self._step_s = step_s
        self._history = History(config.history)
        self._models: Models | None = None
        self._trained_at = -1
        self._tracker = ErrorTracker()
        self._lock = threading.Lock()

    @property
    def horizon_steps(self) -> int:
        return inference.horizon_steps(self._config.horizon_s, self._step_s)

    @property
    def horizon_s(self) -> int:
        return round(self.horizon_steps * self._step_s)

    def reconfigure(self, config: PredictConfig, step_s: float | None = None) -> None:
        """Take a new method, alpha, horizon or step (history length changes need a restart)."""
        with self._lock:
            self._config = config
            self._step_s = self._step_s if step_s is None else step_s

    def observe(self, snapshot: ClusterSnapshot) -> None:
        """Add ``snapshot`` to the history and score the forecasts that came due."""
        with self._lock:
            self._history.observe(snapshot)
            self._tracker.score(self._history.observations, snapshot)

    def forecast(self) -> Forecast:
        """Forecast every VM with history, ``horizon_s`` ahead."""
        models = self._models
        with self._lock:
            settings = inference.Settings(self._config.method, self._config.alpha, self._config.min_history,
                                          self.horizon_steps)
            window = self._history.window(inference.window_width(settings, self._history.capacity))
            observation = self._history.observations
        predicted = inference.predict(window, models, settings)
        method = "model" if predicted.learned.any() else ("last" if settings.method == "last" else "ewma")
        forecast = Forecast(self.horizon_s, inference.vm_forecasts(window.names, predicted), method)
        with self._lock:
            self._tracker.record(observation, settings.horizon, forecast)
        return forecast

    def errors(self) -> tuple[ForecastError, ...]:
        """The latest forecast errors (empty until a forecast has come due)."""
        return self._tracker.latest

    def needs_training(self) -> bool:
        """True when method is ``model`` and the models are missing, for another horizon, or older than new data."""
        with self._lock:
            if self._config.method != "model":
                return False
            stale = self._models is None or self._models.horizon != self.horizon_steps
            return stale or self._history.observations > self._trained_at

    def retrain(self) -> TrainReport:
        """Train new models on a copy of the history and swap them in (pure compute; call off the cycle)."""
        with self._lock:
            window = self._history.window(self._history.capacity)
            observations = self._history.observations
            horizon, config = self.horizon_steps, self._config
        models, report = train(window, horizon, config.min_history, config.max_train_rows, config.upper_quantile)
        if models is not None:
            self._models = models
            self._trained_at = observations
        return dataclasses.replace(report, observations=observations)
