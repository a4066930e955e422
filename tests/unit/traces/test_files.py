"""traces.files: folder listing, reading gzip or plain text, VM names, numbers with file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from balancerd.errors import TraceError
from balancerd.traces.files import number, percent, read_text, trace_files, vm_name


def test_trace_files_are_sorted_without_hidden_files_or_folders(tmp_path: Path) -> None:
    for name in ("b", "a", ".x"):
        (tmp_path / name).write_text("1\n")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in trace_files(tmp_path, "fix")] == ["a", "b"]


def test_a_missing_folder_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"nope: the folder does not exist or is not a directory; put files") as info:
        trace_files(tmp_path / "nope", "put files there")
    assert info.value.line is None and info.value.fix == "put files there"


def test_read_text_decompresses_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.gz").write_bytes(gzip.compress(b"1\n"))
    (tmp_path / "b").write_text("2\n")
    assert read_text(tmp_path / "a.gz", "fix") == "1\n"
    assert read_text(tmp_path / "b", "fix") == "2\n"


@pytest.mark.parametrize(("name", "vm"), [("1.csv.gz", "1"), ("7.csv", "7"), ("x.txt", "x"), ("host_vm", "host_vm")])
def test_vm_names(name: str, vm: str) -> None:
    assert vm_name(Path(name)) == vm


def test_number_and_percent_name_file_and_line() -> None:
    assert number(Path("f"), 1, " 2.5\t", "fix") == 2.5
    assert percent(Path("f"), 1, " 42 ", "fix") == 42
    with pytest.raises(TraceError, match=r"^f line 3: 'x' is not a number; fix$"):
        number(Path("f"), 3, "x", "fix")
    with pytest.raises(TraceError, match=r"^f line 4: -1 is outside 0\.\.100; fix$"):
        percent(Path("f"), 4, "-1", "fix")
