"""`balancerd bench forecast`: rolling-origin backtest of the forecaster on CPU traces, printed as JSON.

Registered by :mod:`balancerd.bench.cli`; ``benchmarks/forecast_backtest.py`` runs it over every reference
data set. Reads the traces (:func:`balancerd.traces.read`) into a ``SeriesSet`` (:func:`load`), trains our
model with the daemon's default settings on the first 70 % of every series, predicts each step of the last
30 % ``--horizon`` steps ahead, and compares MAE / RMSE with persistence, the mean of the last 12 and AR(12),
plus the coverage of our p95. This module only converts, times and prints; the computation is in
:mod:`balancerd.predict.backtest`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from balancerd.bench import forecast_io
from balancerd.config import PredictConfig
from balancerd.errors import BalancerdError, TraceError
from balancerd.predict import backtest, learner
from balancerd.predict.dataset import SeriesSet, spans_days, training_rows, without_clock
from balancerd.predict.features import Array
from balancerd.traces import FORMATS, VmSeries, read
from balancerd.traces.planetlab import STEP_S as PLANETLAB_STEP_S

COVERAGE_BAND = (0.93, 0.97)
STRETCH = 0.9


@dataclass(frozen=True, slots=True)
class Traces:
    """Loaded series, the VM name of each and the label of each step (for the predictions CSV)."""

    names: tuple[str, ...]
    steps: tuple[tuple[str, ...], ...]
    series: SeriesSet


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "forecast", help="backtest the forecaster on CPU traces (rolling origin over the last 30 %%)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="trace format")
    parser.add_argument("--path", required=True, type=Path, help="trace folder (or file for wide-csv)")
    parser.add_argument("--horizon", type=int, default=1, metavar="STEPS", help="steps ahead (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--predictions-out", type=Path, metavar="FILE",
                        help="write vm,step,actual,predicted,p95 for every evaluated step")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.horizon < 1:
        print("balancerd bench forecast: --horizon must be at least 1")
        return 2
    try:
        result, predictions = run(args.format, args.path, args.horizon)
        if args.predictions_out is not None:
            forecast_io.write_predictions(args.predictions_out, predictions)
    except BalancerdError as exc:
        print(f"balancerd bench forecast: {exc}")
        return 1
    print(json.dumps(result, indent=2) if args.json else _text(result))
    return 0


def run(fmt: str, path: Path, horizon: int) -> tuple[dict[str, Any], Iterator[tuple[str, str, float, float, float]]]:
    """The backtest of one data set: the JSON-ready result and the prediction rows."""
    traces = load(fmt, path)
    if not spans_days(backtest.training_part(traces.series)):
        traces = Traces(traces.names, traces.steps, without_clock(traces.series))
    test = backtest.test_set(traces.series, horizon)
    if len(test.actual) == 0:
        raise TraceError(path, f"no step to evaluate (series too short for horizon {horizon})",
                         "give longer series or a shorter --horizon")
    train = backtest.training_part(traces.series)
    model, rows, seconds = _train(train, horizon, path)
    wall, cpu = time.perf_counter(), time.process_time()
    point, upper = learner.predict(model, test.x, test.last)
    seconds["predict"] = round(time.perf_counter() - wall, 3)
    seconds["predict_cpu"] = round(time.process_time() - cpu, 3)
    seconds["predict_cpu_per_row_us"] = round(1e6 * seconds["predict_cpu"] / len(point), 2)
    predicted = {
        "persistence": backtest.persistence(test),
        "mean12": backtest.mean_of_last(test),
        "ar12": backtest.ar_predict(backtest.ar_fit(train, horizon), test),
        "ours": point,
    }
    result = _result(fmt, path, horizon, traces, test, predicted, upper)
    result["training_rows"] = rows
    result["seconds"] = seconds
    return result, _prediction_rows(traces, test, point, upper)


def load(fmt: str, path: Path) -> Traces:
    """The traces at ``path`` in format ``fmt`` as the backtest's series (clock and VM size where known)."""
    recorded = read(fmt, path)
    values = tuple(vm.cpu_pct for vm in recorded.vms)
    times = tuple(_times(recorded.fmt, vm) for vm in recorded.vms)
    log_sizes = np.log(np.array([_cores(vm) for vm in recorded.vms]))
    steps = tuple(recorded.labels(i) for i in range(len(recorded.vms)))
    return Traces(recorded.names, steps, SeriesSet(values, times, log_sizes))


def _times(fmt: str, vm: VmSeries) -> Array:
    """Seconds of each step: Bitbrains' stamps, PlanetLab's 5-minute steps, none (NaN) for a wide CSV."""
    if vm.usage is not None:
        return vm.usage.times_s
    if fmt == "planetlab":
        return np.arange(vm.steps, dtype=np.float64) * PLANETLAB_STEP_S
    return np.full(vm.steps, np.nan)


def _cores(vm: VmSeries) -> float:
    """CPU cores of a Bitbrains VM (its first row, at least 1), NaN where the format has no size."""
    if vm.usage is None:
        return math.nan
    return max(float(vm.usage.cores[0]), 1.0)


def _train(train: SeriesSet, horizon: int, path: Path) -> tuple[learner.Learned, int, dict[str, float]]:
    """Our model with the daemon's defaults, and how long building the rows and fitting took."""
    defaults = PredictConfig()
    wall, cpu = time.perf_counter(), time.process_time()
    rows = training_rows(train, horizon, defaults.min_history, defaults.max_train_rows)
    try:
        model = learner.fit(rows, defaults.upper_quantile)
    except ValueError as exc:
        raise TraceError(path, f"cannot train ({exc})", "give more or longer series") from exc
    seconds = {"train": round(time.perf_counter() - wall, 2), "train_cpu": round(time.process_time() - cpu, 2)}
    return model, len(rows.target), seconds


def _result(fmt: str, path: Path, horizon: int, traces: Traces, test: backtest.TestSet,
            predicted: dict[str, Array], upper: Array) -> dict[str, Any]:
    scores = {name: backtest.score(values, test.actual) for name, values in predicted.items()}
    coverage = backtest.coverage(upper, test.actual)
    floor = min(scores["persistence"].mae, scores["ar12"].mae)
    ours = scores["ours"].mae
    return {
        "format": fmt, "path": str(path), "horizon_steps": horizon, "vms": len(traces.names),
        "evaluated_steps": len(test.actual),
        "methods": {name: {"mae": round(s.mae, 4), "rmse": round(s.rmse, 4)} for name, s in scores.items()},
        "ours_p95_coverage": round(coverage, 4),
        "ours_mae_ratio_to_best_baseline": round(ours / floor, 4) if floor > 0 else None,
        "acceptance": {
            "mae_below_persistence_and_ar12": ours < floor,
            "p95_coverage_in_band": COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1],
            "stretch_mae_at_most_0.9_of_best": ours <= STRETCH * floor,
        },
    }


def _prediction_rows(traces: Traces, test: backtest.TestSet, point: Array,
                     upper: Array) -> Iterator[tuple[str, str, float, float, float]]:
    for i in range(len(test.actual)):
        series, step = int(test.series[i]), int(test.step[i])
        yield traces.names[series], traces.steps[series][step], float(test.actual[i]), float(point[i]), \
            float(upper[i])


def _text(result: dict[str, Any]) -> str:
    lines = [f"{result['path']} ({result['format']}): {result['vms']} VMs, {result['evaluated_steps']} steps "
             f"evaluated, horizon {result['horizon_steps']}"]
    for name, score in result["methods"].items():
        lines.append(f"  {name:<12} MAE {score['mae']:8.4f}  RMSE {score['rmse']:8.4f}")
    lines.append(f"  p95 coverage {result['ours_p95_coverage']:.2%}; acceptance {result['acceptance']}")
    lines.append(f"  seconds {result['seconds']}")
    return "\n".join(lines)
