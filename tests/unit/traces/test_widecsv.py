"""traces.widecsv: a header, the step column, one column per VM; gaps as NaN; gzip; errors naming the line."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from balancerd.errors import TraceError
from balancerd.traces.widecsv import read_wide_csv


def test_columns_are_vms_and_the_first_column_labels_the_steps(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("step,a,b\n10,1,2\n20,,4\n\n30,5,6\n")
    recorded = read_wide_csv(path)
    assert recorded.fmt == "wide-csv" and recorded.names == ("a", "b")
    assert recorded.step_labels == ("10", "20", "30")
    assert recorded.labels(1) == ("10", "20", "30")
    assert math.isnan(recorded.vms[0].cpu_pct[1]) and recorded.vms[1].cpu_pct.tolist() == [2.0, 4.0, 6.0]


def test_gzip(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv.gz"
    path.write_bytes(gzip.compress(b"step,web\n0,12.5\n"))
    assert read_wide_csv(path).vms[0].cpu_pct.tolist() == [12.5]


@pytest.mark.parametrize(("content", "match"), [
    ("step,a\n1,x\n", r"bad\.csv line 2: 'x' is not a number; a wide CSV has a header"),
    ("only\n", r"bad\.csv: the file needs a header"),
    ("step,a,b\n1,2\n", r"bad\.csv line 2: 1 VM columns where the header names 2"),
    ("step,a\n,\n", r"bad\.csv: the file holds no rows of values"),
])
def test_bad_files_name_the_file(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match=match):
        read_wide_csv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"none\.csv: cannot read the file"):
        read_wide_csv(tmp_path / "none.csv")
