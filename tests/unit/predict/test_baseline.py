"""predict.baseline and predictor: last value, EWMA, upper band, history bounds."""

from __future__ import annotations

import numpy as np
import pytest

from balancerd.config import PredictConfig
from balancerd.model import ClusterSnapshot, Resources
from balancerd.predict import Predictor, inference
from balancerd.predict.baseline import ewma, last_value
from balancerd.predict.history import History, Window
from tests.builders import on_one_host


def _r(cpu: int, mem: int = 100) -> Resources:
    return Resources(cpu, mem)


def test_last_value() -> None:
    assert last_value([_r(1), _r(7)]) == (_r(7), _r(7))


def test_ewma_constant_series_has_no_band() -> None:
    point, upper = ewma([_r(500)] * 10, 0.5)
    assert point == upper == _r(500)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
def test_ewma_point_between_min_and_max_and_upper_above(alpha: float) -> None:
    series = [_r(v) for v in (100, 900, 200, 800, 300)]
    point, upper = ewma(series, alpha)
    assert 100 <= point.cpu_m <= 900
    assert upper.cpu_m > point.cpu_m
    assert upper.cpu_m >= series[-1].cpu_m


def _snap(seq: int, usage: dict[str, int]) -> ClusterSnapshot:
    """Sample ``seq`` of a series a second apart: each VM uses ``u`` millicores and 100 MiB."""
    return on_one_host({n: _r(u) for n, u in usage.items()}, seq=seq, at=float(seq))


def test_history_is_bounded_and_forgets_vanished_vms() -> None:
    history = History(3)
    for i in range(5):
        history.observe(_snap(i, {"a": i, **({"b": 1} if i == 0 else {})}))
    assert [r.cpu_m for r in history.series("a")] == [2, 3, 4]
    assert "b" not in history.vms()


def test_predictor_methods() -> None:
    predictor = Predictor(PredictConfig(method="last"), step_s=60)
    for i, u in enumerate((100, 300)):
        predictor.observe(_snap(i, {"a": u}))
    assert predictor.forecast().as_mapping()["a"].point.cpu_m == 300
    predictor.reconfigure(PredictConfig(method="ewma", alpha=0.5))
    forecast = predictor.forecast()
    assert forecast.method == "ewma"
    assert forecast.as_mapping()["a"].point.cpu_m == 200


def test_vectorised_ewma_fallback_matches_the_scalar_reference() -> None:
    cpu, mem = [120, 480, 300, 900, 150], [1000, 1100, 900, 1500, 1200]
    point, upper = ewma([_r(c, m) for c, m in zip(cpu, mem, strict=True)], 0.3)
    window = Window(("a",), np.array([cpu], dtype=float), np.array([mem], dtype=float), np.zeros(5),
                    np.array([1000.0]), np.array([2048.0]))
    settings = inference.Settings("ewma", 0.3, 12, 1)
    (got,) = inference.vm_forecasts(("a",), inference.predict(window, None, settings))
    assert (got.point, got.upper) == (point, upper)
