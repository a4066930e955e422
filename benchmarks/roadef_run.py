"""Shared by benchmarks/roadef_a.py and benchmarks/roadef_large.py: run `balancerd bench roadef` as its own
process (so --seconds covers start-up and parsing) and read back the instance, the original assignment and the
written solution, which the callers then check from scratch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancerd.roadef.instance import Instance, IntArray, load_assignment, load_model


@dataclass(frozen=True)
class Run:
    """One finished solver run: its JSON report, wall time, and the files it worked on, parsed."""

    report: dict[str, Any]
    wall_seconds: float
    inst: Instance
    original: IntArray
    solution: IntArray


def run_solver(model: Path, original: Path, out: Path, seconds: float, seed: int = 0, workers: int = 2) -> Run | str:
    """The run, or the tail of its standard error when the command failed."""
    cmd = [sys.executable, "-m", "balancerd.cli", "bench", "roadef", "--model", str(model),
           "--assignment", str(original), "--seconds", str(seconds), "--out", str(out), "--seed", str(seed),
           "--workers", str(workers)]
    began = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.monotonic() - began
    if done.returncode != 0:
        return done.stderr.strip()[-500:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    inst = load_model(model)
    return Run(report, wall, inst, load_assignment(original, inst), load_assignment(out, inst))
