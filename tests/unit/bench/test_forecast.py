"""`balancerd bench forecast`: JSON shape, the predictions CSV reproduces the figures, no look-ahead."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from balancerd.bench.forecast import load
from balancerd.cli import main

DATA = Path(__file__).parents[1] / "traces" / "data"


def _bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["bench", "forecast", *args, "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_planetlab_sample_beats_persistence_and_csv_reproduces_it(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pred.csv"
    result = _bench(capsys, "--format", "planetlab", "--path", str(DATA / "planetlab"), "--predictions-out", str(out))
    methods = result["methods"]
    assert isinstance(methods, dict)
    assert set(methods) == {"persistence", "mean12", "ar12", "ours"}
    assert methods["ours"]["mae"] < methods["persistence"]["mae"]
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == result["evaluated_steps"] == 36 * (288 - 201)
    assert {r["step"] for r in rows} == {str(s) for s in range(201, 288)}
    actual, predicted, p95 = (np.array([float(r[k]) for r in rows]) for k in ("actual", "predicted", "p95"))
    assert np.abs(predicted - actual).mean() == pytest.approx(methods["ours"]["mae"], abs=1e-3)
    assert (actual <= p95).mean() == pytest.approx(result["ours_p95_coverage"], abs=1e-3)
    assert 0.85 <= float(str(result["ours_p95_coverage"])) <= 1.0


def test_horizon_and_wide_csv_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "wide.csv"
    lines = ["step," + ",".join(f"vm{i}" for i in range(20))]
    level = rng.uniform(10, 60, 20)
    for step in range(200):
        lines.append(f"{1000 + step}," + ",".join(f"{v:.1f}" for v in level + rng.normal(0, 3, 20)))
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "pred.csv"
    result = _bench(capsys, "--format", "wide-csv", "--path", str(path), "--horizon", "3",
                    "--predictions-out", str(out))
    assert result["horizon_steps"] == 3
    with out.open() as handle:
        first = next(csv.DictReader(handle))
    assert first["vm"] == "vm0" and first["step"] == "1140"


def test_bad_path_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "forecast", "--format", "planetlab", "--path", str(tmp_path / "none")]) == 1
    assert "does not exist or is not a directory" in capsys.readouterr().out


def test_load_planetlab_has_5_minute_clock_and_no_size() -> None:
    traces = load("planetlab", DATA / "planetlab")
    assert len(traces.names) == 36
    assert all(len(v) == 288 for v in traces.series.values)
    assert traces.steps[0][:2] == ("0", "1")
    assert traces.series.times[0][1] == 300.0
    assert np.isnan(traces.series.log_sizes).all()


def test_load_bitbrains_has_stamps_and_log_cores() -> None:
    traces = load("bitbrains", DATA / "bitbrains")
    assert traces.names == ("1", "2", "3", "4")
    assert [len(v) for v in traces.series.values] == [1200, 1200, 1200, 600]
    assert traces.series.values[0][0] == 1.5
    assert traces.series.times[0][0] == 1372629804.0
    assert np.isfinite(traces.series.log_sizes).all()
    assert traces.series.log_sizes[0] == np.log(2.0)


def test_load_wide_csv_keeps_gaps_and_step_labels(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("step,a,b\n10,1,2\n20,,4\n30,5,6\n")
    traces = load("wide-csv", path)
    assert traces.names == ("a", "b")
    assert traces.steps[1] == ("10", "20", "30")
    assert np.isnan(traces.series.values[0][1]) and traces.series.values[1][2] == 6
    assert np.isnan(traces.series.times[0]).all()
