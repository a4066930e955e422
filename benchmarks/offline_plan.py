"""The offline ``balancerd plan --config F --json`` on a large simulated cluster, as an operator runs it.

Run: ``.venv/bin/python benchmarks/offline_plan.py [--hosts 1000] [--vms 20000] [--runs 5]``. Prints one JSON
object.

It writes a config (``backend = "sim"``, ``[sim] hosts``, ``vms``, the bundled PlanetLab trace; every path in a
temporary directory) and runs ``python -m balancerd.cli plan --config F --json`` ``--runs`` times as a
subprocess of this interpreter, timing each from start to exit: interpreter start, imports, building the
simulated cluster, two collections, forecast and plan, JSON out. Reported: ``wall_seconds`` (min, median,
max and every run), ``import_seconds`` (``import balancerd.cli, balancerd.service.oneshot`` in a fresh
interpreter, what the sub-command loads before it works, timed inside that interpreter, ``--runs`` times),
``heavy_modules`` (which of scikit-learn, SciPy, pandas, matplotlib, APScheduler and prometheus_client the plan
process had loaded: none should be), ``peak_rss_mib`` (``ru_maxrss`` of the children, i.e. the largest plan
process), ``moves`` and whether every run printed the same plan. Target (issue 18): <= 3 s wall at 1,000 hosts x
20,000 VMs. On a loaded machine the spread is wide: compare medians.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HEAVY = ("sklearn", "scipy", "pandas", "matplotlib", "apscheduler", "prometheus_client")
"""Modules an offline plan does not need; the plan process is checked for each."""

CONFIG = """backend = "sim"
[sim]
hosts = {hosts}
vms = {vms}
[paths]
maintenance_file = "{tmp}/maintenance"
journal = "{tmp}/journal.sqlite"
pid_file = "{tmp}/balancerd.pid"
status_file = "{tmp}/status.json"
"""

IMPORTS = """import time
t0 = time.perf_counter()
import balancerd.cli, balancerd.service.oneshot
print(time.perf_counter() - t0)
"""

PLAN_AND_MODULES = """import contextlib, io, json, sys
from balancerd import cli
with contextlib.redirect_stdout(io.StringIO()):
    cli.main(sys.argv[1:])
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


def write_config(tmp: Path, hosts: int, vms: int) -> Path:
    path = tmp / "balancerd.toml"
    path.write_text(CONFIG.format(hosts=hosts, vms=vms, tmp=tmp))
    return path


def timed_plan(config: Path) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one ``balancerd plan --json`` subprocess, and the document it printed."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "balancerd.cli", "plan", "--config", str(config), "--json"],
                          capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL, cwd=config.parent)
    seconds = time.perf_counter() - t0
    doc: dict[str, Any] = json.loads(proc.stdout)
    return seconds, doc


def import_seconds(cwd: Path) -> float:
    """Seconds a fresh interpreter takes to import what ``balancerd plan`` imports, timed inside it.

    Run in ``cwd`` (the temporary directory) like the plans, so that no ``balancerd`` folder in the caller's
    working directory shadows the one the plans import."""
    proc = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL, cwd=cwd)
    return float(proc.stdout)


def heavy_modules(config: Path) -> list[str]:
    """Which of :data:`HEAVY` an in-process ``plan --json`` (in a fresh interpreter) had loaded."""
    code = PLAN_AND_MODULES.format(heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code, "plan", "--config", str(config), "--json"],
                          capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL, cwd=config.parent)
    loaded: list[str] = json.loads(proc.stdout.splitlines()[-1])
    return loaded


def spread(values: list[float]) -> dict[str, Any]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3), "runs": [round(v, 3) for v in values]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="balancerd-offline-plan-") as tmp:
        config = write_config(Path(tmp), args.hosts, args.vms)
        plans = [timed_plan(config) for _ in range(args.runs)]
        imports = [import_seconds(config.parent) for _ in range(args.runs)]
        loaded = heavy_modules(config)
    docs = [doc for _, doc in plans]
    moves = [[(m["vm"], m["source"], m["dest"]) for m in doc["moves"]] for doc in docs]
    result = {
        "hosts": args.hosts, "vms": args.vms, "runs": args.runs,
        "wall_seconds": spread([seconds for seconds, _ in plans]),
        "import_seconds": spread(imports),
        "heavy_modules": loaded,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "moves": len(moves[0]),
        "same_plan_every_run": all(m == moves[0] for m in moves),
        "offline": all(doc.get("offline") is True for doc in docs),
        "strategy": docs[0]["strategy"], "score_before": docs[0]["score_before"],
        "score_after": docs[0]["score_after"],
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
