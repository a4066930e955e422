"""traces.formats: the readers by format name."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.errors import TraceError
from balancerd.traces.formats import FORMATS, read

DATA = Path(__file__).parent / "data"


def test_the_formats_of_bench_forecast_and_simulate() -> None:
    assert FORMATS == ("planetlab", "bitbrains", "wide-csv")


@pytest.mark.parametrize(("fmt", "sub", "vms"), [("planetlab", "planetlab", 36), ("bitbrains", "bitbrains", 4)])
def test_read_dispatches_by_format(fmt: str, sub: str, vms: int) -> None:
    recorded = read(fmt, DATA / sub)
    assert recorded.fmt == fmt and len(recorded.vms) == vms


def test_an_unknown_format_says_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="unknown trace format 'csv'; use one of planetlab, bitbrains, wide-csv"):
        read("csv", tmp_path)
