"""predict.features: gap filling, leakage-free feature rows, EWMA rows."""

from __future__ import annotations

import numpy as np

from balancerd.predict.features import FEATURE_NAMES, UNKNOWN, WINDOW, ewm_stats_rows, ewma_rows, features, fill_gaps


def test_fill_gaps_forward_fills_and_backfills_leading_gaps() -> None:
    rows = np.array([[np.nan, 2.0, np.nan, 4.0], [1.0, np.nan, np.nan, np.nan]])
    assert fill_gaps(rows).tolist() == [[2.0, 2.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0]]


def test_feature_row_shape_and_relative_levels() -> None:
    windows = np.tile(np.arange(WINDOW, dtype=float), (3, 1))
    x = features(windows, np.array([0.0, 43_200.0, np.nan]), np.array([np.log(4.0), np.nan, 0.0]))
    assert x.shape == (3, len(FEATURE_NAMES))
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    assert x[0, col["last"]] == WINDOW - 1
    assert x[0, col["lag1"]] == -1 and x[0, col["lag12"]] == -12
    assert x[1, col["day_frac"]] == 0.5
    assert x[2, col["day_frac"]] == UNKNOWN and x[1, col["log_size"]] == UNKNOWN


def test_features_only_read_the_window() -> None:
    """Changing a value after the window's end cannot change its row (no leakage by construction)."""
    series = np.random.default_rng(1).uniform(0, 100, 100)
    before = features(series[None, 40 - WINDOW:40], np.zeros(1), np.zeros(1))
    series[40:] = 0.0
    assert np.array_equal(before, features(series[None, 40 - WINDOW:40], np.zeros(1), np.zeros(1)))


def test_ewma_rows_match_the_recursion() -> None:
    rows = np.array([[100.0, 300.0], [5.0, 5.0]])
    assert ewma_rows(rows, 0.5).tolist() == [200.0, 5.0]
    mean, sd = ewm_stats_rows(rows, 0.5)
    assert mean.tolist() == [200.0, 5.0]
    assert sd[0] > 0 and sd[1] == 0
