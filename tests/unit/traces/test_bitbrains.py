"""traces.bitbrains: GWA-T-12 folders (gzip or not), columns by header name, errors naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from balancerd.errors import TraceError
from balancerd.traces.bitbrains import read_bitbrains, read_bitbrains_file

DATA = Path(__file__).parent / "data"
HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
          "Memory capacity provisioned [KB];\tMemory usage [KB]\n")


def test_the_sample_folder_gzip_or_not() -> None:
    recorded = read_bitbrains(DATA / "bitbrains")
    assert recorded.fmt == "bitbrains"
    assert recorded.names == ("1", "2", "3", "4")
    assert [vm.steps for vm in recorded.vms] == [1200, 1200, 1200, 600]
    first = recorded.vms[0]
    assert first.cpu_pct[0] == 1.5
    assert first.usage is not None
    assert first.usage.times_s[0] == 1372629804.0
    assert first.usage.cores[0] == 2.0
    assert first.usage.mem_provisioned_kb[0] == 8218624.0
    assert first.usage.mem_used_kb[0] == 1034592.8


def test_millisecond_stamps_become_seconds(tmp_path: Path) -> None:
    path = tmp_path / "7.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "1372629804000;\t2;\t1;\t1;\t3.5;\t10;\t5\n").encode()))
    vm = read_bitbrains_file(path)
    assert vm.name == "7"
    assert vm.usage is not None and vm.usage.times_s.tolist() == [1372629804.0]
    assert vm.cpu_pct.tolist() == [3.5]


@pytest.mark.parametrize(("content", "match"), [
    ("Timestamp [ms];\tCPU cores\n1;\t2\n", r"1\.csv line 1: the header has no column 'CPU usage \[%\]'"),
    (HEADER + "1;\t2;\t1;\t1;\tbusy;\t10;\t5\n", r"1\.csv line 2: 'busy' is not a number"),
    (HEADER + "1;\t2;\t1\n", r"1\.csv line 2: 3 columns where the header has at least 7"),
    (HEADER, r"1\.csv: the file holds no values"),
    ("", r"1\.csv: the file is empty"),
])
def test_bad_files_name_the_file_and_line(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "1.csv").write_text(content)
    with pytest.raises(TraceError, match=match):
        read_bitbrains(tmp_path)


def test_a_broken_gzip_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "1.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(TraceError, match=r"1\.csv\.gz: cannot read the file") as info:
        read_bitbrains(tmp_path)
    assert info.value.__cause__ is not None
