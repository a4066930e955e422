"""predict.predictor: fallback before training, learned forecasts after, atomic retrain, error tracking."""

from __future__ import annotations

import threading

import numpy as np

from balancerd.config import PredictConfig
from balancerd.model import ClusterSnapshot, Resources
from balancerd.predict import Predictor
from balancerd.predict.history import Window
from balancerd.predict.inference import horizon_steps
from balancerd.predict.training import train
from tests.builders import on_one_host

SIZE = Resources(4000, 8192)


def _snap(seq: int, cpu: list[int], mem: list[int]) -> ClusterSnapshot:
    """Sample ``seq`` of a series a minute apart: VM ``vm{i}`` uses ``cpu[i]`` millicores and ``mem[i]`` MiB."""
    usage = {f"vm{i}": Resources(c, m) for i, (c, m) in enumerate(zip(cpu, mem, strict=True))}
    return on_one_host(usage, seq=seq, at=60.0 * seq, size=SIZE)


def _feed(predictor: Predictor, steps: int, vms: int = 40, seed: int = 0, start: int = 0) -> None:
    rng = np.random.default_rng(seed)
    level = rng.uniform(200, 3000, vms)
    for t in range(start, start + steps):
        cpu = np.clip(level * (1 + 0.3 * np.sin(t / 15 + level)) + rng.normal(0, 60, vms), 0, 4000)
        mem = level + rng.normal(0, 20, vms)
        predictor.observe(_snap(t, cpu.astype(int).tolist(), mem.astype(int).tolist()))


def _config(**kw: object) -> PredictConfig:
    base: dict[str, object] = {"history": 200, "horizon_s": 300, "max_train_rows": 3000, "min_history": 12}
    base.update(kw)
    return PredictConfig(**base)  # type: ignore[arg-type]


def test_horizon_in_steps() -> None:
    assert horizon_steps(600, 60) == 10 and horizon_steps(30, 60) == 1 and horizon_steps(90, 60) == 2
    assert Predictor(_config(), step_s=60).horizon_s == 300


def test_ewma_until_trained_then_model_and_upper_above_point() -> None:
    predictor = Predictor(_config(), step_s=60)
    _feed(predictor, 150)
    assert predictor.needs_training()
    before = predictor.forecast()
    assert before.method == "ewma" and before.horizon_s == 300
    report = predictor.retrain()
    assert report.trained and report.rows > 0 and report.horizon_steps == 5 and report.observations == 150
    assert not report.clock  # 150 minutes of data: time of day is not a feature
    assert not predictor.needs_training()
    after = predictor.forecast()
    assert after.method == "model" and len(after.vms) == 40
    for f in after.vms:
        assert f.upper.cpu_m >= f.point.cpu_m >= 0 and f.upper.mem_mib >= f.point.mem_mib >= 0
        assert f.point.cpu_m <= SIZE.cpu_m
    _feed(predictor, 1, start=150)
    assert predictor.needs_training()


def test_new_vm_falls_back_to_ewma_while_others_use_the_model() -> None:
    predictor = Predictor(_config(), step_s=60)
    _feed(predictor, 150, vms=20)
    predictor.retrain()
    predictor.observe(_snap(150, [1000] * 20 + [700], [900] * 20 + [500]))
    forecast = predictor.forecast().as_mapping()
    assert forecast["vm20"].point == Resources(700, 500) == forecast["vm20"].upper


def test_too_little_history_is_reported_not_raised() -> None:
    predictor = Predictor(_config(), step_s=60)
    _feed(predictor, 10, vms=2)
    report = predictor.retrain()
    assert not report.trained and "training rows" in report.detail
    assert predictor.forecast().method == "ewma"


def test_baseline_methods_do_not_train() -> None:
    predictor = Predictor(_config(method="ewma"), step_s=60)
    _feed(predictor, 30, vms=3)
    assert not predictor.needs_training()
    predictor.reconfigure(_config(method="last"))
    last = predictor.forecast()
    assert last.method == "last" and all(f.point == f.upper for f in last.vms)


def test_horizon_change_needs_retraining_and_falls_back_meanwhile() -> None:
    predictor = Predictor(_config(), step_s=60)
    _feed(predictor, 150, vms=20)
    predictor.retrain()
    predictor.reconfigure(_config(), step_s=30)
    assert predictor.needs_training() and predictor.forecast().method == "ewma"


def test_retrain_in_a_thread_while_forecasting() -> None:
    predictor = Predictor(_config(), step_s=60)
    _feed(predictor, 150)
    worker = threading.Thread(target=predictor.retrain)
    worker.start()
    methods = set()
    while worker.is_alive():
        forecast = predictor.forecast()
        assert len(forecast.vms) == 40
        methods.add(forecast.method)
    worker.join()
    assert predictor.forecast().method == "model"
    assert methods <= {"ewma", "model"}


def test_forecast_errors_come_due_after_the_horizon() -> None:
    predictor = Predictor(_config(horizon_s=120), step_s=60)
    for t in range(5):
        predictor.observe(_snap(t, [1000, 2000], [500, 500]))
        predictor.forecast()
    errors = {e.resource: e for e in predictor.errors()}
    assert errors["cpu"].mae == 0 and errors["cpu"].coverage == 1.0 and errors["cpu"].horizon_s == 120
    assert errors["memory"].vms == 2


def test_a_failed_fit_is_reported_not_raised() -> None:
    flat = np.full((1, 400), 50.0)
    window = Window(("a",), flat, flat, np.arange(400.0), np.array([100.0]), np.array([100.0]))
    models, report = train(window, 1, 12, 1000, 0.95)
    assert models is not None and report.trained
    assert not models.clock  # 400 s of data: time of day is not a feature
    models, report = train(window, 1, 12, 1000, 1.5)
    assert models is None and not report.trained and "cpu" in report.detail


def test_days_of_history_make_the_clock_a_feature() -> None:
    predictor = Predictor(_config(horizon_s=3600 * 5), step_s=3600)
    rng = np.random.default_rng(3)
    for t in range(150):  # hourly samples over six days
        daily = 1000 + 800 * np.sin(2 * np.pi * t / 24)
        cpu = np.clip(daily + rng.normal(0, 50, 30), 0, 4000).astype(int).tolist()
        usage = {f"vm{i}": Resources(c, 1000) for i, c in enumerate(cpu)}
        predictor.observe(on_one_host(usage, seq=t, at=3600.0 * t, size=SIZE))
    report = predictor.retrain()
    assert report.trained and report.clock
    assert predictor.forecast().method == "model"
