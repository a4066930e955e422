"""`balancerd bench forecast`: rolling-origin backtest of the forecaster on CPU traces, printed as JSON.

Registered by :mod:`balancerd.bench.cli`; ``benchmarks/forecast_backtest.py`` runs it over every reference
data set. Loads the traces (:mod:`balancerd.bench.forecast_io`), trains our model with the daemon's default
settings on the first 70 % of every series, predicts each step of the last 30 % ``--horizon`` steps ahead,
and compares MAE / RMSE with persistence, the mean of the last 12 and AR(12), plus the coverage of our p95.
This module only loads, times and prints; the computation is in :mod:`balancerd.predict.backtest`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from balancerd.bench import forecast_io
from balancerd.config import PredictConfig
from balancerd.errors import BalancerdError
from balancerd.predict import backtest, learner
from balancerd.predict.dataset import SeriesSet, spans_days, training_rows, without_clock
from balancerd.predict.features import Array

COVERAGE_BAND = (0.93, 0.97)
STRETCH = 0.9


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "forecast", help="backtest the forecaster on CPU traces (rolling origin over the last 30 %%)")
    parser.add_argument("--format", required=True, choices=forecast_io.FORMATS, help="trace format")
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
    traces = forecast_io.load(fmt, path)
    if not spans_days(backtest.training_part(traces.series)):
        traces = forecast_io.Traces(traces.names, traces.steps, without_clock(traces.series))
    test = backtest.test_set(traces.series, horizon)
    if len(test.actual) == 0:
        raise forecast_io.TraceError(f"{path}: no step to evaluate (series too short for horizon {horizon})")
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


def _train(train: SeriesSet, horizon: int, path: Path) -> tuple[learner.Learned, int, dict[str, float]]:
    """Our model with the daemon's defaults, and how long building the rows and fitting took."""
    defaults = PredictConfig()
    wall, cpu = time.perf_counter(), time.process_time()
    rows = training_rows(train, horizon, defaults.min_history, defaults.max_train_rows)
    try:
        model = learner.fit(rows, defaults.upper_quantile)
    except ValueError as exc:
        raise forecast_io.TraceError(f"{path}: cannot train ({exc})") from exc
    seconds = {"train": round(time.perf_counter() - wall, 2), "train_cpu": round(time.process_time() - cpu, 2)}
    return model, len(rows.target), seconds


def _result(fmt: str, path: Path, horizon: int, traces: forecast_io.Traces, test: backtest.TestSet,
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


def _prediction_rows(traces: forecast_io.Traces, test: backtest.TestSet, point: Array,
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
