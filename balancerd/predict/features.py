"""Feature rows for the pooled forecaster, computed from windows of recent samples.

Called by :mod:`balancerd.predict.dataset` (training rows) and :mod:`balancerd.predict.predictor` (one row
per VM each cycle), and through them by the backtest. Values are in percent of the VM's size, so one model
serves VMs of every size. Every feature is made only from the window (data before the predicted step);
levels are expressed relative to the last sample, so the model learns changes rather than raw levels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

WINDOW = 36
"""Samples of history a feature row reads (the last one is the most recent)."""

LAGS = 12
UNKNOWN = -1.0
"""What an unknown time or size becomes (a column of NaN only would upset the binning of the model)."""
_DAY_S = 86_400.0
_WEEK_S = 7 * _DAY_S
_EPOCH_WEEKDAY_OFFSET_S = 3 * _DAY_S  # 1970-01-01 was a Thursday: shift so that Monday 00:00 is 0

FEATURE_NAMES: tuple[str, ...] = (
    "last", *(f"lag{k}" for k in range(1, LAGS + 1)),
    "mean3", "mean6", "mean12", "mean36", "median12", "std12", "std36",
    "min12", "max12", "min36", "max36", "absdiff12", "ewma", "day_frac", "week_frac", "log_size",
)


def fill_gaps(windows: Array) -> Array:
    """Forward-fill missing samples (NaN) along each row; leading gaps take the row's first known value."""
    valid = ~np.isnan(windows)
    positions = np.where(valid, np.arange(windows.shape[1]), 0)
    np.maximum.accumulate(positions, axis=1, out=positions)
    filled = np.take_along_axis(windows, positions, axis=1)
    first = np.argmax(valid, axis=1)
    first_value = windows[np.arange(windows.shape[0]), first]
    return np.where(np.isnan(filled), first_value[:, None], filled)


def features(windows: Array, times: Array, log_sizes: Array) -> Array:
    """One feature row per window.

    ``windows`` is (n, WINDOW) without gaps (see :func:`fill_gaps`), ``times`` the clock time of each row's
    last sample (NaN when unknown), ``log_sizes`` log of each VM's size (NaN when unknown).
    """
    last = windows[:, -1]
    rel = windows - last[:, None]
    recent = rel[:, -LAGS:]
    columns = [last, *(rel[:, -1 - k] for k in range(1, LAGS + 1))]
    columns += [rel[:, -n:].mean(axis=1) for n in (3, 6, 12, WINDOW)]
    columns += [np.median(recent, axis=1), recent.std(axis=1), rel.std(axis=1)]
    columns += [recent.min(axis=1), recent.max(axis=1), rel.min(axis=1), rel.max(axis=1)]
    columns += [np.abs(np.diff(recent, axis=1)).mean(axis=1), ewma_rows(rel, 0.5)]
    context = [_day_fraction(times), _week_fraction(times), log_sizes]
    columns += [np.where(np.isnan(c), UNKNOWN, c) for c in context]
    return np.column_stack(columns)


def ewma_rows(windows: Array, alpha: float) -> Array:
    """Exponentially weighted mean of each row, oldest sample first."""
    mean = windows[:, 0].copy()
    for column in range(1, windows.shape[1]):
        mean += alpha * (windows[:, column] - mean)
    return mean


def ewm_stats_rows(windows: Array, alpha: float) -> tuple[Array, Array]:
    """Exponentially weighted mean and standard deviation of each row (the EWMA fallback)."""
    mean = windows[:, 0].copy()
    var = np.zeros_like(mean)
    for column in range(1, windows.shape[1]):
        diff = windows[:, column] - mean
        increment = alpha * diff
        mean += increment
        var = (1 - alpha) * (var + diff * increment)
    return mean, np.sqrt(var)


def _day_fraction(times: Array) -> Array:
    return np.mod(times, _DAY_S) / _DAY_S


def _week_fraction(times: Array) -> Array:
    return np.mod(times + _EPOCH_WEEKDAY_OFFSET_S, _WEEK_S) / _WEEK_S
