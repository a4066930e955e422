"""traces.planetlab: a PlanetLab day folder, one integer percentage per line, errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancerd.errors import TraceError
from balancerd.traces.planetlab import read_planetlab

DATA = Path(__file__).parent / "data"


def test_the_sample_day_has_36_vms_of_288_steps() -> None:
    recorded = read_planetlab(DATA / "planetlab")
    assert recorded.fmt == "planetlab" and recorded.source == str(DATA / "planetlab")
    assert len(recorded.vms) == 36
    assert {vm.steps for vm in recorded.vms} == {288}
    assert list(recorded.names) == sorted(recorded.names)
    assert recorded.vms[0].usage is None


def test_files_are_sorted_named_by_file_and_blank_lines_ignored(tmp_path: Path) -> None:
    (tmp_path / "vm-b").write_text("5\n\n6\n")
    (tmp_path / "vm-a").write_text("1\n2\n3\n")
    (tmp_path / ".hidden").write_text("x\n")
    recorded = read_planetlab(tmp_path)
    assert recorded.names == ("vm-a", "vm-b")
    assert recorded.vms[1].cpu_pct.tolist() == [5.0, 6.0]
    assert recorded.vms[0].cpu_pct.dtype == np.float64


def test_values_are_read_only(tmp_path: Path) -> None:
    (tmp_path / "vm").write_text("1\n")
    with pytest.raises(ValueError, match="read-only"):
        read_planetlab(tmp_path).vms[0].cpu_pct[0] = 5.0


@pytest.mark.parametrize(("content", "match"), [
    ("3\n4\nforty\n", r"vm-x line 3: 'forty' is not an integer CPU percentage; a PlanetLab folder holds"),
    ("3\n101\n", r"vm-x line 2: 101 is outside 0\.\.100"),
    ("1\nnot a number\n", r"vm-x line 2: 'not a number' is not an integer"),
    ("", r"vm-x: the file holds no values"),
])
def test_bad_files_name_the_file_and_line(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "vm-x").write_text(content)
    with pytest.raises(TraceError, match=match) as info:
        read_planetlab(tmp_path)
    assert info.value.path == str(tmp_path / "vm-x")


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="does not exist or is not a directory"):
        read_planetlab(tmp_path / "nope")
    with pytest.raises(TraceError, match="holds no trace files"):
        read_planetlab(tmp_path)
