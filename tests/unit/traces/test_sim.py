"""traces.sim: the trace of the simulated backend (bundled or a PlanetLab folder) and its ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.errors import ConfigError, TraceError
from balancerd.traces.sim import Trace, load_trace


def _write_day(folder: Path, series: dict[str, list[int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, values in series.items():
        (folder / name).write_text("".join(f"{v}\n" for v in values))
    return folder


def test_bundled_trace_has_500_vms_of_288_steps() -> None:
    trace = load_trace("bundled")
    assert len(trace.names) == 500
    assert len(trace.series) == 500
    assert {len(values) for values in trace.series} == {288}
    assert trace.step_s == 300


def test_bundled_trace_matches_planetlab_names_sorted_and_in_range() -> None:
    trace = load_trace("bundled")
    assert list(trace.names) == sorted(trace.names)
    assert all(0 <= v <= 100 for values in trace.series for v in values)
    assert any(v > 0 for values in trace.series for v in values)


def test_bundled_trace_takes_the_step_given() -> None:
    assert load_trace("bundled", step_s=60).step_s == 60


def test_value_steps_and_wraps_around() -> None:
    trace = Trace(names=("a", "b"), step_s=300, series=((1, 2, 3), (7, 8, 9)))
    assert trace.value(0, 0.0) == 1
    assert trace.value(0, 299.9) == 1
    assert trace.value(0, 300.0) == 2
    assert trace.value(1, 600.0) == 9
    assert trace.value(1, 900.0) == 7
    assert trace.value(0, -1.0) == 3


def test_planetlab_folder_is_read_sorted_by_name(tmp_path: Path) -> None:
    day = _write_day(tmp_path / "day", {"vm-b": [5, 6], "vm-a": [1, 2, 3]})
    trace = load_trace(f"planetlab:{day}", step_s=60)
    assert trace.names == ("vm-a", "vm-b")
    assert trace.series == ((1, 2, 3), (5, 6))
    assert trace.step_s == 60


def test_planetlab_folder_ignores_blank_lines(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm").write_text("4\n\n5\n")
    assert load_trace(f"planetlab:{day}").series == ((4, 5),)


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_trace(f"planetlab:{tmp_path / 'nope'}")
    assert info.value.key == "sim.trace"
    assert isinstance(info.value.__cause__, TraceError)


def test_empty_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no trace files"):
        load_trace(f"planetlab:{tmp_path}")


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm-x").write_text("3\n4\nforty\n")
    with pytest.raises(ConfigError, match=r"vm-x line 3: 'forty' is not an integer"):
        load_trace(f"planetlab:{day}")


def test_out_of_range_value_names_file_and_line(tmp_path: Path) -> None:
    day = _write_day(tmp_path / "day", {"vm-y": [3, 101]})
    with pytest.raises(ConfigError, match=r"vm-y line 2: 101 is outside 0..100"):
        load_trace(f"planetlab:{day}")


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm-z").write_text("")
    with pytest.raises(ConfigError, match="vm-z: the file holds no values"):
        load_trace(f"planetlab:{day}")


@pytest.mark.parametrize("spec", ["", "planetlab:", "csv:/tmp/x", "Bundled"])
def test_unknown_spec_says_what_is_allowed(spec: str) -> None:
    with pytest.raises(ConfigError, match="'bundled' or 'planetlab:DIR'"):
        load_trace(spec)


def test_non_positive_step_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_trace("bundled", step_s=0)
    assert info.value.key == "sim.trace_step_s"


def test_the_same_values_as_the_planetlab_reader() -> None:
    day = Path(__file__).parent / "data" / "planetlab"
    trace = load_trace(f"planetlab:{day}")
    assert len(trace) == 36
    assert {len(values) for values in trace.series} == {288}
    assert all(isinstance(v, int) for v in trace.series[0])
