"""bench.forecast_io: the predictions CSV (reading the traces is tested in tests/unit/traces/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.bench.forecast_io import write_predictions
from balancerd.errors import TraceError


def test_write_predictions(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    write_predictions(out, [("a", "3", 1.0, 2.5, 4.0)])
    assert out.read_text().splitlines() == ["vm,step,actual,predicted,p95", "a,3,1,2.5,4"]


def test_an_unwritable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"p\.csv: cannot write predictions"):
        write_predictions(tmp_path / "missing" / "p.csv", [])
