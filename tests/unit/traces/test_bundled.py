"""traces.bundled: the shipped extract and files in its layout (one line per VM, no header)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from balancerd.errors import TraceError
from balancerd.traces.bundled import BUNDLED_FILE, read_bundled, read_rows


def test_the_bundled_extract_has_500_vms_of_288_steps_and_is_cached() -> None:
    recorded = read_bundled()
    assert recorded.fmt == "bundled" and recorded.source.endswith(BUNDLED_FILE)
    assert len(recorded.vms) == 500 and {vm.steps for vm in recorded.vms} == {288}
    assert read_bundled() is recorded


def test_rows_are_vms(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,1,2\n\nb,3,4\n"))
    recorded = read_rows(path)
    assert recorded.names == ("a", "b")
    assert recorded.vms[1].cpu_pct.tolist() == [3.0, 4.0]


@pytest.mark.parametrize(("content", "match"), [
    ("a\n", r"t\.csv line 1: VM 'a' has no values"),
    ("a,1\nb,1,x\n", r"t\.csv line 2: 'x' is not an integer CPU percentage"),
    ("\n", r"t\.csv: the file holds no VM series; .*scripts/make-bundled-trace"),
])
def test_bad_rows_name_the_file_and_line(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match=match):
        read_rows(path)
