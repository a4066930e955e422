"""Forecasting every VM at once from a window of the history: the learned model or a baseline.

Called by :meth:`balancerd.predict.predictor.Predictor.forecast` each cycle, vectorised over VMs (20,000 VMs
take well under a second). VMs with fewer than ``min_history`` samples, and every VM while no model has been
trained for the current horizon, fall back to EWMA (or to the last value when ``method = "last"``).
Forecasts never go below zero and, for the model, never above the VM's size (or its last sample if higher).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancerd.model import Resources, VmForecast
from balancerd.predict import learner
from balancerd.predict.features import WINDOW, Array, ewm_stats_rows, features, fill_gaps
from balancerd.predict.history import Window
from balancerd.predict.training import Models, percent_of_size

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Settings:
    """What inference needs from the config."""

    method: str
    alpha: float
    min_history: int
    horizon: int


@dataclass(frozen=True, slots=True)
class Predicted:
    """Point and upper forecasts per VM row of a window, for CPU (millicores) and memory (MiB)."""

    point: tuple[Array, Array]
    upper: tuple[Array, Array]
    learned: Mask


def predict(window: Window, models: Models | None, settings: Settings) -> Predicted:
    """Forecast every row of ``window``."""
    filled = (fill_gaps(window.cpu), fill_gaps(window.mem))
    point, upper = _baseline(filled, settings)
    learned = _model_rows(window, models, settings)
    if models is not None and learned.any():
        sizes = (window.size_cpu, window.size_mem)
        for i, resource in enumerate(("cpu", "memory")):
            now = window.times[-1] if models.clock else np.nan
            p, u = _learned(models.get(resource), filled[i][learned], sizes[i][learned], now)
            point[i][learned], upper[i][learned] = p, u
    return Predicted((point[0], point[1]), (upper[0], upper[1]), learned)


def _model_rows(window: Window, models: Models | None, settings: Settings) -> Mask:
    if settings.method != "model" or models is None or models.horizon != settings.horizon:
        return np.zeros(len(window.names), dtype=bool)
    return np.asarray(window.counts() >= settings.min_history)


def _baseline(filled: tuple[Array, Array], settings: Settings) -> tuple[list[Array], list[Array]]:
    if settings.method == "last":
        last = [f[:, -1].copy() for f in filled]
        return last, [v.copy() for v in last]
    stats = [ewm_stats_rows(f, settings.alpha) for f in filled]
    point = [mean for mean, _ in stats]
    upper = [np.maximum(mean + 2 * sd, f[:, -1]) for (mean, sd), f in zip(stats, filled, strict=True)]
    return point, upper


def _learned(learned: learner.Learned, usage: Array, size: Array, now: float) -> tuple[Array, Array]:
    """Point and upper of one resource, back in absolute units."""
    pct = percent_of_size(usage[:, -WINDOW:], size)
    if pct.shape[1] < WINDOW:
        pct = np.concatenate([np.repeat(pct[:, :1], WINDOW - pct.shape[1], axis=1), pct], axis=1)
    x = features(pct, np.full(len(pct), now), np.log(np.maximum(size, 1.0)))
    point, upper = learner.predict(learned, x, pct[:, -1])
    ceiling = np.maximum(100.0, pct[:, -1])
    scale = np.maximum(size, 1.0) / 100.0
    return np.clip(point, 0.0, ceiling) * scale, np.clip(upper, 0.0, ceiling) * scale


def vm_forecasts(names: tuple[str, ...], predicted: Predicted) -> tuple[VmForecast, ...]:
    """The frozen per-VM values (point rounded, upper rounded up, upper at least the point)."""
    cpu_p, mem_p = (np.rint(_clean(a)).astype(np.int64).tolist() for a in predicted.point)
    cpu_u, mem_u = (np.ceil(_clean(a) - 1e-9).astype(np.int64).tolist() for a in predicted.upper)
    return tuple(
        VmForecast(name, Resources(cp, mp), Resources(max(cu, cp), max(mu, mp)))
        for name, cp, mp, cu, mu in zip(names, cpu_p, mem_p, cpu_u, mem_u, strict=True)
    )


def window_width(settings: Settings, capacity: int) -> int:
    """Columns of history a forecast reads: the model's window, ``min_history``, and the samples that still
    weigh at least 0.1 % in the EWMA."""
    alpha = settings.alpha
    ewma = 1 if alpha >= 1.0 else math.ceil(math.log(1e-3) / math.log(1.0 - alpha))
    return min(capacity, max(WINDOW, settings.min_history, ewma))


def _clean(values: Array) -> Array:
    return np.maximum(np.nan_to_num(values, nan=0.0, posinf=0.0), 0.0)


def horizon_steps(horizon_s: float, step_s: float) -> int:
    """Whole cycles in the horizon, at least one."""
    return max(1, math.floor(horizon_s / step_s + 0.5)) if step_s > 0 else 1
