"""Training rows for the pooled forecaster, cut from many VMs' series.

Called by :meth:`balancerd.predict.predictor.Predictor.retrain` (series from the history ring buffers) and by
:mod:`balancerd.predict.backtest` (the training part of each trace). A row is a window ending at an origin
step ``t`` and the value ``horizon`` steps later; only rows whose last sample and target were observed are
used. At most ``max_rows`` rows are drawn, uniformly over all candidates, with a fixed seed (pure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from balancerd.predict.features import FEATURE_NAMES, WINDOW, Array, features

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SeriesSet:
    """Series of several VMs: values in percent of size (NaN = not observed), their times and sizes."""

    values: tuple[Array, ...]
    times: tuple[Array, ...]
    log_sizes: Array

    def __len__(self) -> int:
        return len(self.values)


MIN_CLOCK_SPAN_S = 2 * 86_400.0
"""Time of day and of week are features only when the training data spans at least two days: over a few hours
the model would learn the clock as a proxy for "recently" and extrapolate it."""


def spans_days(series: SeriesSet) -> bool:
    """True when the series' times cover at least :data:`MIN_CLOCK_SPAN_S`."""
    known = [t[~np.isnan(t)] for t in series.times]
    known = [t for t in known if len(t)]
    return bool(known) and max(t.max() for t in known) - min(t.min() for t in known) >= MIN_CLOCK_SPAN_S


def without_clock(series: SeriesSet) -> SeriesSet:
    """The same series with unknown times (the clock features become "unknown")."""
    return SeriesSet(series.values, tuple(np.full(len(t), np.nan) for t in series.times), series.log_sizes)


@dataclass(frozen=True, slots=True)
class Rows:
    """Feature rows, the last value each row saw, the target, and how late in its series the origin lies."""

    x: Array
    last: Array
    target: Array
    lateness: Array


def padded(values: Array) -> Array:
    """The series forward-filled and padded in front so that every origin has a full window."""
    if np.isnan(values).all():
        return np.zeros(len(values) + WINDOW - 1)
    valid = ~np.isnan(values)
    positions = np.where(valid, np.arange(len(values)), 0)
    np.maximum.accumulate(positions, out=positions)
    filled = values[positions]
    filled = np.where(np.isnan(filled), values[np.argmax(valid)], filled)
    return np.concatenate([np.full(WINDOW - 1, filled[0]), filled])


def windows_at(values: Array, origins: IntArray) -> Array:
    """The gap-free windows of ``values`` ending at each origin step."""
    view = sliding_window_view(padded(values), WINDOW)
    return np.asarray(view[origins], dtype=np.float64)


def candidate_origins(values: Array, horizon: int, min_history: int) -> IntArray:
    """Origins with an observed last sample, an observed target and at least ``min_history`` steps before."""
    count = len(values) - horizon
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    origins = np.arange(count)
    ok = ~np.isnan(values[:count]) & ~np.isnan(values[horizon:]) & (origins >= min_history - 1)
    return origins[ok]


def training_rows(series: SeriesSet, horizon: int, min_history: int, max_rows: int, seed: int = 0) -> Rows:
    """At most ``max_rows`` rows drawn uniformly from every series' candidate origins."""
    candidates = [candidate_origins(v, horizon, min_history) for v in series.values]
    counts = np.array([len(c) for c in candidates], dtype=np.int64)
    chosen = _draw(counts, max_rows, seed)
    if not chosen:
        empty = np.zeros(0)
        return Rows(np.zeros((0, len(FEATURE_NAMES))), empty, empty, empty)
    parts = [_windows_of(series, i, candidates[i][picks], horizon) for i, picks in chosen]
    windows, times, sizes, target, lateness = (np.concatenate(p) for p in zip(*parts, strict=True))
    return Rows(features(windows, times, sizes), windows[:, -1], target, lateness)


def _draw(counts: IntArray, max_rows: int, seed: int) -> list[tuple[int, IntArray]]:
    """Per series, the indices (into its candidates) of the rows drawn."""
    total = int(counts.sum())
    if total <= max_rows:
        return [(i, np.arange(c)) for i, c in enumerate(counts) if c]
    picked = np.sort(np.random.default_rng(seed).choice(total, size=max_rows, replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)])
    which = np.searchsorted(starts, picked, side="right") - 1
    return [(int(i), picked[which == i] - starts[i]) for i in np.unique(which)]


def _windows_of(series: SeriesSet, index: int, origins: IntArray, horizon: int) -> tuple[Array, ...]:
    """Windows, times, sizes, targets and lateness of the rows of one series (features come later, at once)."""
    values = series.values[index]
    lateness = origins / max(1, len(values) - horizon)
    size = np.full(len(origins), series.log_sizes[index])
    return windows_at(values, origins), series.times[index][origins], size, values[origins + horizon], lateness
