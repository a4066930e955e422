"""Generate ROADEF-format instances of the B/X sizes and run `balancerd bench roadef` on them.

    .venv/bin/python benchmarks/roadef_large.py --dir /tmp/roadef_large --seconds 300 [--sizes b x]

The challenge's B and X sets are not shipped (only the A set is), so this makes instances of their sizes with
:mod:`balancerd.roadef.generate` (feasible original assignment by construction), writes them in the
challenge's format, runs the command as a subprocess (so --seconds covers start-up and parsing), then checks
the written solution from scratch. Prints one JSON line per size: processes, machines, resources, original
and final objective, improvement %, feasible, seconds (command's own report), wall seconds, peak RSS MiB (of the
largest process: with the default 2 workers the two search processes each hold their own copy of the instance).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path
from typing import Any

from roadef_run import run_solver

from balancerd.roadef.generate import GenSpec, write_instance
from balancerd.roadef.generate import generate as make
from balancerd.roadef.objective import objective, violations

SIZES = {
    # B_10-like: 50,000 processes, 5,000 machines, 12 resources (the largest challenge instances)
    "b": GenSpec(machines=5000, processes=50000, resources=12, services=5000, neighborhoods=25, locations=25,
                 transient=4, balances=1, seed=10),
    # X-like with fewer machines per process (tighter): 50,000 processes, 500 machines
    "x": GenSpec(machines=500, processes=50000, resources=12, services=1000, neighborhoods=10, locations=20,
                 transient=4, balances=1, seed=11),
    "small": GenSpec(machines=100, processes=1000, resources=6, services=200, neighborhoods=5, locations=10,
                     transient=2, balances=1, seed=12),
}


def run_size(name: str, spec: GenSpec, folder: Path, seconds: float) -> dict[str, Any]:
    model, original, out = folder / f"model_{name}.txt", folder / f"assignment_{name}.txt", folder / f"sol_{name}.txt"
    if not model.exists():
        inst, orig = make(spec)
        write_instance(inst, orig, model, original)
    run = run_solver(model, original, out, seconds)
    if isinstance(run, str):
        return {"size": name, "error": run}
    report, inst, orig, sol, wall = run.report, run.inst, run.original, run.solution, run.wall_seconds
    before, after = objective(inst, orig, orig), objective(inst, orig, sol)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"size": name, "processes": inst.n_processes, "machines": inst.n_machines,
            "resources": inst.n_resources, "original": before, "objective": after,
            "improvement_pct": round(100.0 * (before - after) / max(before, 1), 3),
            "feasible": not violations(inst, orig, sol) and after == report["objective"],
            "seconds": report["seconds"], "wall_seconds": round(wall, 3), "peak_rss_mib": round(peak)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="where instances and solutions go")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--sizes", nargs="*", default=["b", "x"], choices=sorted(SIZES))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    ok = True
    for name in args.sizes:
        report = run_size(name, SIZES[name], args.dir, args.seconds)
        ok = ok and bool(report.get("feasible")) and report.get("wall_seconds", 1e9) <= args.seconds
        print(json.dumps(report), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
