"""Run `balancerd bench roadef` on every ROADEF/EURO 2012 A instance and compare with the best known values.

    .venv/bin/python benchmarks/roadef_a.py --path /work/shared/data/roadef2012/A --seconds 300

Each instance runs as its own `balancerd bench roadef` process (so --seconds covers start-up and parsing) with
--workers searches (default 2: both cores of the reference machine, so instances run one after the other).
Checks first that the objective of each original assignment equals the instance's original_cost_* file.
Then verifies each written solution from scratch (feasibility, objective). Prints one JSON line per instance
(instance, objective, best_known, gap_pct, feasible, seconds, original_ok) and a summary line with the mean gap.
Best known values: S41 (challenge winner, 300 s), from the data README.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from roadef_run import run_solver

from balancerd.roadef.objective import objective, violations

BEST_KNOWN = {
    "a1_1": 44_306_501, "a1_2": 777_532_896, "a1_3": 583_005_717, "a1_4": 252_728_589, "a1_5": 727_578_309,
    "a2_1": 196, "a2_2": 746_097_632, "a2_3": 1_210_644_572, "a2_4": 1_680_615_349, "a2_5": 318_358_949,
}


def run_one(path: Path, name: str, seconds: float, seed: int, out_dir: Path, workers: int) -> dict[str, Any]:
    model, original = path / f"model_{name}.txt", path / f"assignment_{name}.txt"
    out = out_dir / f"solution_{name}.txt"
    run = run_solver(model, original, out, seconds, seed, workers)
    if isinstance(run, str):
        return {"instance": name, "error": run}
    report, inst, orig, sol = run.report, run.inst, run.original, run.solution
    value = objective(inst, orig, sol)
    cost_file = path / f"original_cost_{name}.txt"
    report["original_ok"] = objective(inst, orig, orig) == int(cost_file.read_text().split()[0])
    report["feasible"] = report["feasible"] and not violations(inst, orig, sol)
    report["objective_checked"] = value == report["objective"]
    report["best_known"] = BEST_KNOWN[name]
    report["gap_pct"] = round(100.0 * (value - BEST_KNOWN[name]) / BEST_KNOWN[name], 4)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", type=Path, required=True, help="directory of the A set")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="instances run at the same time")
    parser.add_argument("--workers", type=int, default=2, help="searches per instance (cores it uses)")
    parser.add_argument("--instances", nargs="*", default=sorted(BEST_KNOWN))
    parser.add_argument("--out-dir", type=Path, default=None, help="where solutions go (default: a temp dir)")
    args = parser.parse_args()
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="roadef_a_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, args.path, n, args.seconds, args.seed, out_dir, args.workers)
                   for n in args.instances]
        reports = []
        for future in futures:
            reports.append(future.result())
            print(json.dumps(reports[-1]), flush=True)
    gaps = [r["gap_pct"] for r in reports if "gap_pct" in r]
    ok = all(r.get("feasible") and r.get("original_ok") and r.get("objective_checked") for r in reports)
    summary = {"instances": len(reports), "seconds": args.seconds, "workers": args.workers, "jobs": args.jobs,
               "all_feasible_and_checked": ok,
               "mean_gap_pct": round(sum(gaps) / len(gaps), 4) if gaps else None, "out_dir": str(out_dir)}
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
