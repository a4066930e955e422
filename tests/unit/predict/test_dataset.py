"""predict.dataset: candidate origins, row sampling, targets strictly after their windows."""

from __future__ import annotations

import numpy as np

from balancerd.predict.dataset import (
    SeriesSet,
    candidate_origins,
    padded,
    spans_days,
    training_rows,
    windows_at,
    without_clock,
)
from balancerd.predict.features import FEATURE_NAMES, WINDOW


def _set(*values: list[float]) -> SeriesSet:
    arrays = tuple(np.array(v, dtype=float) for v in values)
    return SeriesSet(arrays, tuple(np.arange(len(a)) * 300.0 for a in arrays), np.zeros(len(arrays)))


def test_padded_and_windows_end_at_the_origin() -> None:
    values = np.arange(10, dtype=float)
    assert len(padded(values)) == 10 + WINDOW - 1
    windows = windows_at(values, np.array([0, 9]))
    assert windows[0, -1] == 0 and (windows[0] == 0).all()
    assert windows[1, -1] == 9 and windows[1, -2] == 8


def test_candidates_need_observed_origin_and_target() -> None:
    values = np.array([1.0, np.nan, 3.0, 4.0, np.nan, 6.0])
    assert candidate_origins(values, 1, 1).tolist() == [2]
    assert candidate_origins(values, 2, 1).tolist() == [0, 3]
    assert candidate_origins(values, 1, 4).tolist() == []


def test_rows_target_is_horizon_after_last() -> None:
    rows = training_rows(_set([float(i) for i in range(50)]), horizon=3, min_history=5, max_rows=10_000)
    assert rows.x.shape == (50 - 3 - 4, len(FEATURE_NAMES))
    assert np.array_equal(rows.target - rows.last, np.full(len(rows.target), 3.0))
    assert rows.lateness.min() >= 0 and rows.lateness.max() < 1


def test_rows_are_capped_and_deterministic() -> None:
    series = _set(*([float(i % 7) for i in range(300)] for _ in range(5)))
    a = training_rows(series, 1, 12, 200, seed=3)
    b = training_rows(series, 1, 12, 200, seed=3)
    assert len(a.target) == 200 and np.array_equal(a.x, b.x)


def test_no_rows_from_too_short_series() -> None:
    rows = training_rows(_set([1.0, 2.0]), 5, 1, 100)
    assert rows.x.shape == (0, len(FEATURE_NAMES))


def test_clock_features_only_over_two_days_of_data() -> None:
    short = _set([1.0] * 100)  # 100 steps of 300 s: under a day
    assert not spans_days(short)
    long = SeriesSet((np.ones(600),), (np.arange(600) * 300.0,), np.zeros(1))
    assert spans_days(long)
    stripped = without_clock(long)
    assert np.isnan(stripped.times[0]).all() and not spans_days(stripped)
    assert stripped.values is long.values
