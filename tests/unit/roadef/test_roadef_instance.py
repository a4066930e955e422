"""Tests for balancerd.roadef.instance: parsing, format errors, atomic solution writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancerd.roadef.instance import (
    Instance,
    IntArray,
    RoadefFormatError,
    format_solution,
    load_assignment,
    load_model,
    parse_model,
    read_integers,
    write_solution,
)


def test_tiny_model_fields(tiny: Instance) -> None:
    assert (tiny.n_resources, tiny.n_machines, tiny.n_services, tiny.n_processes) == (2, 3, 2, 4)
    assert tiny.transient.tolist() == [True, False]
    assert tiny.capacity[1].tolist() == [7, 10]
    assert tiny.safety[2].tolist() == [2, 6]
    assert tiny.machine_move_cost[2].tolist() == [2, 1, 0]
    assert tiny.dependencies == ((), (0,))
    assert tiny.requirement[2].tolist() == [2, 3]
    assert tiny.process_move_cost.tolist() == [3, 1, 0, 5]
    assert (int(tiny.balance_target[0]), int(tiny.balance_weight[0])) == (2, 7)
    assert (tiny.weight_process_move, tiny.weight_service_move, tiny.weight_machine_move) == (1, 10, 100)


def test_trailing_integers_are_an_error(tiny_text: str) -> None:
    with pytest.raises(RoadefFormatError, match="trailing"):
        parse_model(np.array((tiny_text + " 5").split(), dtype=np.int64))


def test_short_file_is_an_error(tiny_text: str) -> None:
    with pytest.raises(RoadefFormatError, match="ends early"):
        parse_model(np.array(tiny_text.split()[:-2], dtype=np.int64))


def test_out_of_range_service_is_an_error(tiny_text: str) -> None:
    bad = tiny_text.replace("\n1 1 1 5\n", "\n9 1 1 5\n")
    with pytest.raises(RoadefFormatError, match="service"):
        parse_model(np.array(bad.split(), dtype=np.int64))


def test_read_integers_rejects_text(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("1 2\n3 x\n")
    with pytest.raises(RoadefFormatError, match="not a file of integers"):
        read_integers(path)
    path.write_text("1 2\n  3\n")
    assert read_integers(path).tolist() == [1, 2, 3]


def test_assignment_round_trip(tmp_path: Path, tiny_text: str, tiny_original: IntArray) -> None:
    model = tmp_path / "model.txt"
    model.write_text(tiny_text)
    out = tmp_path / "sol.txt"
    write_solution(out, tiny_original)
    assert out.read_text() == "0 1 0 1\n"
    assert format_solution(tiny_original) == "0 1 0 1\n"
    assert load_assignment(out, load_model(model)).tolist() == [0, 1, 0, 1]
    assert sorted(tmp_path.iterdir()) == sorted([model, out])  # no temporary file left behind


def test_assignment_checks_shape_and_range(tmp_path: Path, tiny: Instance) -> None:
    path = tmp_path / "a.txt"
    path.write_text("0 1 0\n")
    with pytest.raises(RoadefFormatError, match="3 machines for 4 processes"):
        load_assignment(path, tiny)
    path.write_text("0 1 0 3\n")
    with pytest.raises(RoadefFormatError, match="out of range"):
        load_assignment(path, tiny)
