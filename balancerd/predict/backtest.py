"""Rolling-origin backtests of the forecaster against simple baselines (pure compute over arrays).

Called by ``balancerd bench forecast`` (:mod:`balancerd.bench.forecast`), which loads the traces and times
the steps. Each series is split at 70 %: rows for training come from the first part only (their targets
lie before the split), and every step of the last 30 % is predicted ``horizon`` steps ahead from the data
before it. Baselines: persistence, mean of the last 12, and AR(12) fitted by least squares over all VMs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancerd.predict.dataset import SeriesSet, windows_at
from balancerd.predict.features import Array, features

TRAIN_SHARE = 0.7
AR_ORDER = 12


@dataclass(frozen=True, slots=True)
class TestSet:
    """Every evaluated step: which series, which step, its window, features and actual value."""

    series: npt.NDArray[np.int64]
    step: npt.NDArray[np.int64]
    windows: Array
    x: Array
    actual: Array

    @property
    def last(self) -> Array:
        return self.windows[:, -1]


@dataclass(frozen=True, slots=True)
class Score:
    """Errors of one method over the test set."""

    mae: float
    rmse: float


def split_point(length: int) -> int:
    """Index of the first test step of a series of ``length`` steps."""
    return math.floor(length * TRAIN_SHARE)


def training_part(series: SeriesSet) -> SeriesSet:
    """The first 70 % of every series (what the models may learn from)."""
    cut = [split_point(len(v)) for v in series.values]
    values = tuple(v[:c] for v, c in zip(series.values, cut, strict=True))
    times = tuple(t[:c] for t, c in zip(series.times, cut, strict=True))
    return SeriesSet(values, times, series.log_sizes)


def test_set(series: SeriesSet, horizon: int) -> TestSet:
    """Every observed step of the last 30 % whose origin (``horizon`` steps earlier) was observed."""
    parts = [_test_rows(series, i, horizon) for i in range(len(series))]
    ids, steps, windows, xs, actual = (np.concatenate(p) for p in zip(*parts, strict=True))
    return TestSet(ids.astype(np.int64), steps.astype(np.int64), windows, xs, actual)


def _test_rows(series: SeriesSet, index: int, horizon: int) -> tuple[Array, ...]:
    values = series.values[index]
    steps = np.arange(max(split_point(len(values)), horizon), len(values))
    steps = steps[~np.isnan(values[steps]) & ~np.isnan(values[steps - horizon])]
    windows = windows_at(values, steps - horizon)
    times = series.times[index][steps - horizon]
    x = features(windows, times, np.full(len(steps), series.log_sizes[index]))
    return np.full(len(steps), float(index)), steps.astype(np.float64), windows, x, values[steps]


def persistence(test: TestSet) -> Array:
    return test.last


def mean_of_last(test: TestSet, count: int = 12) -> Array:
    return np.asarray(test.windows[:, -count:].mean(axis=1))


def ar_fit(train: SeriesSet, horizon: int, order: int = AR_ORDER) -> Array:
    """Least-squares AR(order) coefficients (intercept first) predicting ``horizon`` steps ahead, pooled."""
    blocks = [_ar_rows(v, horizon, order) for v in train.values]
    design = np.concatenate([b[0] for b in blocks])
    target = np.concatenate([b[1] for b in blocks])
    coeffs, *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.asarray(coeffs)


def _ar_rows(values: Array, horizon: int, order: int) -> tuple[Array, Array]:
    origins = np.arange(order - 1, len(values) - horizon)
    if len(origins) == 0:
        return np.zeros((0, order + 1)), np.zeros(0)
    windows = windows_at(values, origins)[:, -order:]
    target = values[origins + horizon]
    ok = ~np.isnan(target) & ~np.isnan(values[origins])
    return np.column_stack([np.ones(int(ok.sum())), windows[ok]]), target[ok]


def ar_predict(coeffs: Array, test: TestSet) -> Array:
    order = len(coeffs) - 1
    return np.asarray(coeffs[0] + test.windows[:, -order:] @ coeffs[1:])


def score(predicted: Array, actual: Array) -> Score:
    error = predicted - actual
    return Score(float(np.abs(error).mean()), float(np.sqrt((error**2).mean())))


def coverage(upper: Array, actual: Array) -> float:
    """Share of the steps whose actual value is at most the upper forecast."""
    return float((actual <= upper).mean())
