"""bench.forecast_io: the three trace formats and the predictions CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancerd.bench.forecast_io import TraceError, load, write_predictions

DATA = Path(__file__).parents[1] / "traces" / "data"


def test_planetlab_folder() -> None:
    traces = load("planetlab", DATA / "planetlab")
    assert len(traces.names) == 36
    assert all(len(v) == 288 for v in traces.series.values)
    assert traces.steps[0][:2] == ("0", "1")
    assert traces.series.times[0][1] == 300.0


def test_bitbrains_folder_gzip_or_not() -> None:
    traces = load("bitbrains", DATA / "bitbrains")
    assert traces.names == ("1", "2", "3", "4")
    assert [len(v) for v in traces.series.values] == [1200, 1200, 1200, 600]
    assert traces.series.values[0][0] == 1.5
    assert traces.series.times[0][0] == 1372629804.0
    assert np.isfinite(traces.series.log_sizes).all()


def test_wide_csv_with_gaps(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("step,a,b\n10,1,2\n20,,4\n30,5,6\n")
    traces = load("wide-csv", path)
    assert traces.names == ("a", "b")
    assert traces.steps[1] == ("10", "20", "30")
    assert np.isnan(traces.series.values[0][1]) and traces.series.values[1][2] == 6


@pytest.mark.parametrize(("fmt", "content"), [("wide-csv", "step,a\n1,x\n"), ("wide-csv", "only\n")])
def test_bad_files_name_the_file(tmp_path: Path, fmt: str, content: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match=r"bad\.csv"):
        load(fmt, path)


def test_missing_folder_and_bad_planetlab(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="not a folder"):
        load("planetlab", tmp_path / "nope")
    (tmp_path / "vm").write_text("1\nnot a number\n")
    with pytest.raises(TraceError, match="one number per line"):
        load("planetlab", tmp_path)


def test_write_predictions(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    write_predictions(out, [("a", "3", 1.0, 2.5, 4.0)])
    assert out.read_text().splitlines() == ["vm,step,actual,predicted,p95", "a,3,1,2.5,4"]
