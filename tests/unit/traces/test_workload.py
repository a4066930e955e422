"""traces.workload: what balancerd simulate replays, from the three formats, cut to days, and its errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from balancerd.errors import ConfigError
from balancerd.traces.workload import load_workload as load

BITBRAINS_HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
                    "CPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n")


def test_planetlab_folder_is_read_one_row_per_file_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").write_text("1\n2\n3\n")
    (tmp_path / "a").write_text("10\n20\n30\n40\n")
    loaded = load(f"planetlab:{tmp_path}")
    assert loaded.names == ("a", "b")
    assert loaded.percent.tolist() == [[10, 20, 30], [1, 2, 3]]  # cut to the shortest
    assert loaded.step_s == 300 and loaded.steps == 3 and loaded.seconds == 900


def test_bitbrains_folder_reads_the_cpu_percent_column_gzip_or_not(tmp_path: Path) -> None:
    rows = "1;\t2;\t5000;\t100;\t2.5;\t100;\t50\n2;\t2;\t5000;\t100;\t7.5;\t100;\t50\n"
    (tmp_path / "1.csv").write_text(BITBRAINS_HEADER + rows)
    (tmp_path / "2.csv.gz").write_bytes(gzip.compress((BITBRAINS_HEADER + rows.replace("7.5", "50")).encode()))
    loaded = load(f"bitbrains:{tmp_path}")
    assert loaded.names == ("1", "2")
    assert loaded.percent.tolist() == [[2.5, 7.5], [2.5, 50.0]]


def test_wide_csv_has_one_column_per_vm(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("step,web,db\n0,10,20\n1,30,140\n")
    loaded = load(f"wide-csv:{path}")
    assert loaded.names == ("web", "db")
    assert loaded.percent.tolist() == [[10, 30], [20, 100]]  # clipped to 0..100


def test_days_cut_the_series(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("5\n" * 600)
    assert load(f"planetlab:{tmp_path}", days=1).steps == 288
    assert load(f"planetlab:{tmp_path}", days=0.5).steps == 144
    with pytest.raises(ConfigError, match="--days"):
        load(f"planetlab:{tmp_path}", days=0)


@pytest.mark.parametrize("spec", ["nope:/x", "planetlab:", "bundled"])
def test_unknown_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigError, match="planetlab:DIR, bitbrains:DIR or wide-csv:FILE"):
        load(spec)


def test_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "1.csv").write_text("Timestamp [ms];\tCPU cores\n1;\t2\n")
    with pytest.raises(ConfigError, match="no column 'CPU usage"):
        load(f"bitbrains:{tmp_path}")
    wide = tmp_path / "w.csv"
    wide.write_text("step,a\n0,x\n")
    with pytest.raises(ConfigError, match=r"w\.csv line 2: 'x' is not a number"):
        load(f"wide-csv:{wide}")
    with pytest.raises(ConfigError, match="does not exist") as info:
        load(f"bitbrains:{tmp_path / 'missing'}")
    assert info.value.key == "--trace"


def test_values_are_floats_in_a_matrix(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1\n2\n")
    assert load(f"planetlab:{tmp_path}").percent.dtype == np.float64


def test_a_wide_csv_gap_is_refused_naming_the_step(tmp_path: Path) -> None:
    wide = tmp_path / "w.csv"
    wide.write_text("step,a,b\n0,1,2\n5,,4\n")
    with pytest.raises(ConfigError, match=r"VM 'a' has no value at step '5'"):
        load(f"wide-csv:{wide}")


def test_a_gzip_wide_csv_is_read(tmp_path: Path) -> None:
    wide = tmp_path / "w.csv.gz"
    wide.write_bytes(gzip.compress(b"step,a\n0,1\n1,2\n"))
    assert load(f"wide-csv:{wide}").percent.tolist() == [[1.0, 2.0]]


def test_the_sample_planetlab_day_is_one_row_per_vm() -> None:
    day = Path(__file__).parent / "data" / "planetlab"
    loaded = load(f"planetlab:{day}", days=0.5)
    assert loaded.percent.shape == (36, 144)
    assert loaded.source == f"planetlab:{day}"
