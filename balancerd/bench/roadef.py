"""`balancerd bench roadef`: solve one ROADEF/EURO 2012 machine-reassignment instance within a time limit.

Called by :mod:`balancerd.bench.cli` (and by ``benchmarks/roadef_a.py`` as a subprocess). It writes the original
assignment to ``--out`` at once, then every better solution atomically (at most once a second, and the best
at the end), so the file always holds a feasible solution no worse than the original; it prints one line of
JSON: ``{"instance", "objective", "feasible", "seconds"}``. ``--seconds`` counts from the start, parse included;
``--workers`` searches run side by side (:mod:`balancerd.roadef.portfolio`), each the engine's search
(:func:`balancerd.optimize.engine.search.solve`), the one the daemon's ``plan()`` improves its plans with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from balancerd.roadef.instance import IntArray, RoadefFormatError, load_assignment, load_model, write_solution
from balancerd.roadef.objective import objective, violations
from balancerd.roadef.portfolio import solve_parallel


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "roadef", help="ROADEF/EURO 2012 machine reassignment: solve one instance, print JSON"
    )
    parser.add_argument("--model", type=Path, required=True, help="model_*.txt")
    parser.add_argument("--assignment", type=Path, required=True, help="original assignment_*.txt")
    parser.add_argument("--seconds", type=float, default=300.0, help="wall-clock limit, parse included")
    parser.add_argument("--out", type=Path, required=True, help="solution file (one line of machine indices)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="searches run at once, one per core (default: up to 2, the cores there are)")
    parser.set_defaults(func=_run)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def margin(seconds: float) -> float:
    """Time kept back for the final check and write (more on longer runs, whose instances may be bigger)."""
    return min(0.25 * seconds, 0.5 + 0.02 * seconds)


def instance_name(model: Path) -> str:
    stem = Path(model).stem
    return stem[len("model_") :] if stem.startswith("model_") else stem


class _Writer:
    """Writes improving solutions, at most once per ``every`` seconds (the caller writes the final one)."""

    def __init__(self, out: Path, every: float = 1.0) -> None:
        self.out = out
        self.every = every
        self.last = time.monotonic()

    def __call__(self, assignment: IntArray, total: int) -> None:
        del total
        now = time.monotonic()
        if now - self.last >= self.every:
            write_solution(self.out, assignment)
            self.last = now


def run_start(young: float = 30.0) -> float:
    """``time.monotonic()`` value the time limit counts from: the process start (so interpreter start-up and
    imports count) when the process is younger than ``young`` seconds, as on the command line; else now (a
    long-lived caller such as a test runner calling :func:`balancerd.cli.main`)."""
    now = time.monotonic()
    try:
        age = time.time() - psutil.Process().create_time()
    except psutil.Error:
        return now
    return now - age if 0.0 <= age < young else now


def _run(args: argparse.Namespace) -> int:
    return run(args, run_start())


def run(args: argparse.Namespace, start: float) -> int:
    """Solve with the limit counted from ``start`` (a ``time.monotonic()`` value); print the JSON report."""
    try:
        inst = load_model(args.model)
        original = load_assignment(args.assignment, inst)
    except (OSError, RoadefFormatError) as exc:
        print(f"balancerd bench roadef: {exc}", file=sys.stderr)
        return 2
    write_solution(args.out, original)
    deadline = start + args.seconds - margin(args.seconds)
    best, _ = solve_parallel(inst, original, deadline, args.workers, seed=args.seed, on_improve=_Writer(args.out),
                             grace=margin(args.seconds) / 2)
    best, value, feasible = _checked(inst, original, best)
    write_solution(args.out, best)
    report = {"instance": instance_name(args.model), "objective": value, "feasible": feasible,
              "seconds": round(time.monotonic() - start, 3)}
    print(json.dumps(report))
    return 0


def _checked(inst: Any, original: IntArray, best: IntArray) -> tuple[IntArray, int, bool]:
    """The solution verified from scratch; the original if the solution is infeasible or no better."""
    value = objective(inst, original, best)
    base = objective(inst, original, original)
    if violations(inst, original, best) or value > base:
        best, value = original, base
    return best, value, not violations(inst, original, best)
