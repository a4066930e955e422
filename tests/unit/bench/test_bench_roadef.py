"""Tests for balancerd.bench.roadef: the command writes a feasible solution, prints JSON, checks what it writes."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from balancerd import cli
from balancerd.bench import roadef as bench_roadef
from balancerd.bench.roadef import _checked, instance_name, margin, register, run
from balancerd.roadef import portfolio
from balancerd.roadef.generate import GenSpec, generate, write_instance
from balancerd.roadef.instance import load_assignment, load_model
from balancerd.roadef.objective import is_feasible, objective


def test_command_writes_feasible_better_solution(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    inst, orig = generate(GenSpec(machines=10, processes=80, services=20, seed=1))
    model, original, out = tmp_path / "model_g1.txt", tmp_path / "assignment_g1.txt", tmp_path / "sol.txt"
    write_instance(inst, orig, model, original)
    argv = ["bench", "roadef", "--model", str(model), "--assignment", str(original), "--seconds", "2.5",
            "--out", str(out), "--seed", "3"]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    limits: list[tuple[float, float]] = []
    real = portfolio.solve_parallel

    def spy(*args: Any, **kw: Any) -> Any:
        limits.append((args[2], kw["grace"]))  # the deadline and the grace the command asks for
        return real(*args, **kw)

    monkeypatch.setattr(bench_roadef, "solve_parallel", spy)
    called = time.monotonic()
    assert run(parser.parse_args(argv[1:]), called) == 0
    # --seconds counts from the start the command is given, minus the margin kept for the check and write
    assert limits == [(called + 2.5 - margin(2.5), margin(2.5) / 2)]
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report) == {"instance", "objective", "feasible", "seconds"}
    assert report["instance"] == "g1" and report["feasible"] is True
    assert report["seconds"] > 0
    solution = load_assignment(out, load_model(model))
    assert out.read_text().count("\n") == 1
    assert is_feasible(inst, orig, solution)
    assert report["objective"] == objective(inst, orig, solution) < objective(inst, orig, orig)


def test_cli_dispatches_to_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, orig = generate(GenSpec(machines=4, processes=12, services=4, seed=1))
    model, original, out = tmp_path / "model_g2.txt", tmp_path / "assignment_g2.txt", tmp_path / "sol.txt"
    write_instance(inst, orig, model, original)
    argv = ["bench", "roadef", "--model", str(model), "--assignment", str(original), "--seconds", "0.5",
            "--out", str(out)]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["feasible"] is True
    assert is_feasible(inst, orig, load_assignment(out, inst))


def test_unreadable_model_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.txt"
    model.write_text("1 2 oops\n")
    argv = ["bench", "roadef", "--model", str(model), "--assignment", str(model), "--seconds", "1",
            "--out", str(tmp_path / "s.txt")]
    assert cli.main(argv) == 2
    assert "not a file of integers" in capsys.readouterr().err


def test_checked_falls_back_to_original() -> None:
    inst, orig = generate(GenSpec(machines=6, processes=30, services=10, seed=2))
    bad = orig.copy()
    bad[:] = 0  # every process on one machine: conflicts at least
    best, value, feasible = _checked(inst, orig, bad)
    assert (best == orig).all() and value == objective(inst, orig, orig) and feasible
    best, value, feasible = _checked(inst, orig, orig.copy())
    assert np.array_equal(best, orig) and feasible


def test_margin_and_name() -> None:
    assert margin(300) == pytest.approx(6.5)
    assert margin(1) == 0.25
    assert instance_name(Path("/x/model_a1_4.txt")) == "a1_4"
    assert instance_name(Path("mine.txt")) == "mine"
