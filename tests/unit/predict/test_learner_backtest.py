"""predict.learner and predict.backtest on synthetic traces: the model beats the baselines, p95 is calibrated."""

from __future__ import annotations

import numpy as np
import pytest

from balancerd.predict import backtest, learner
from balancerd.predict.dataset import Rows, SeriesSet, training_rows


def _traces(count: int = 30, length: int = 400, seed: int = 0) -> SeriesSet:
    """Flat series with a daily-ish wave, noise and rare spikes that decay (persistence is strong, not perfect)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    values = []
    for _ in range(count):
        level = rng.uniform(5, 60)
        wave = 0.3 * level * np.sin(2 * np.pi * steps / 96 + rng.uniform(0, 6))
        spikes = np.convolve((rng.random(length) < 0.02) * rng.uniform(10, 40, length), 0.6 ** np.arange(8))[:length]
        values.append(np.clip(level + wave + spikes + rng.normal(0, 2, length), 0, 100))
    return SeriesSet(tuple(values), tuple(steps * 300.0 for _ in values), np.zeros(count))


def test_ours_beats_persistence_mean_and_ar_with_calibrated_p95() -> None:
    series = _traces()
    train, test = backtest.training_part(series), backtest.test_set(series, 1)
    model = learner.fit(training_rows(train, 1, 12, 20_000), 0.95)
    point, upper = learner.predict(model, test.x, test.last)
    ours = backtest.score(point, test.actual).mae
    assert ours < backtest.score(backtest.persistence(test), test.actual).mae
    assert ours < backtest.score(backtest.mean_of_last(test), test.actual).mae
    assert ours < backtest.score(backtest.ar_predict(backtest.ar_fit(train, 1), test), test.actual).mae
    assert 0.92 <= backtest.coverage(upper, test.actual) <= 0.98
    assert (upper >= point).all()


def test_test_set_covers_the_last_30_percent_only() -> None:
    series = _traces(count=2, length=100)
    test = backtest.test_set(series, 4)
    assert test.step.min() == 70 and test.step.max() == 99 and len(test.actual) == 60
    first = test.series == 0
    assert np.array_equal(test.last[first], series.values[0][66:96])
    assert np.array_equal(test.actual[first], series.values[0][70:100])


def test_training_part_stops_before_the_test_steps() -> None:
    series = _traces(count=1, length=100)
    assert len(backtest.training_part(series).values[0]) == backtest.split_point(100) == 70


def test_ar_fit_recovers_a_linear_recursion() -> None:
    rng = np.random.default_rng(2)
    values = np.zeros(2000)
    for t in range(2, 2000):
        values[t] = 5 + 0.6 * values[t - 1] + 0.2 * values[t - 2] + rng.normal(0, 0.1)
    coeffs = backtest.ar_fit(SeriesSet((values,), (np.zeros(2000),), np.zeros(1)), 1, order=2)
    assert coeffs == pytest.approx([5, 0.2, 0.6], abs=0.1)


def test_score_and_coverage() -> None:
    s = backtest.score(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    assert (s.mae, s.rmse) == (1.0, 1.0)
    assert backtest.coverage(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 0.5


def test_fit_refuses_too_few_rows() -> None:
    empty = np.zeros(0)
    with pytest.raises(ValueError, match="too few"):
        learner.fit(Rows(np.zeros((0, 3)), empty, empty, empty), 0.95)
