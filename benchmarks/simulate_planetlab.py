"""Replay the three PlanetLab days with the ``cloudsim-planetlab`` preset in consolidation mode and compare
with CloudSim's LR-MMT-1.2 on each day (issue 8's acceptance).

Run: ``.venv/bin/python benchmarks/simulate_planetlab.py --path /work/shared/data/planetlab
[--config config/simulate-planetlab.toml] [--days 20110303,20110306,20110309] [--caps 1,2,4,0] [--out DIR]``.
Prints one JSON object per day (and per cap): the report's figures, LR-MMT-1.2's energy and migrations for that
day (data README) with our ratios to them, and whether each acceptance target holds. ``--caps`` replays each day
once per ``[policy] max_moves_per_vm_per_day`` value (0 = no cap; issue 21) and adds ``cap_held`` (no VM moved
more than the cap on one day). With ``--out`` each day's report.json / report.html go to ``DIR/<day>[-cap<N>]/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from balancerd import config as config_mod
from balancerd.observability import logging as logsetup
from balancerd.simulate import report
from balancerd.simulate.cli import SUMMARY_KEYS, simulate
from balancerd.simulate.preset import CLOUDSIM_PLANETLAB

DAYS = ("20110303", "20110306", "20110309")


def run_day(config_path: Path, folder: Path, out: Path, cap: int | None = None) -> dict[str, object]:
    config = config_mod.load(config_path)
    if cap is not None:
        config = dataclasses.replace(config, policy=dataclasses.replace(config.policy, max_moves_per_vm_per_day=cap))
    result, meta = simulate(config, CLOUDSIM_PLANETLAB, f"planetlab:{folder}", out, strategy="consolidate")
    doc = report.document(result, meta)
    report.write(out, doc)
    ref = doc["reference"]
    row: dict[str, object] = {"day": folder.name, **{k: doc[k] for k in SUMMARY_KEYS},
                              "mean_active_hosts": doc["mean_active_hosts"], "late_cycles": doc["late_cycles"]}
    row["lr_mmt_1_2"] = ref
    row["energy_ratio"] = doc["energy_kwh"] / ref["energy_kwh"]
    row["migrations_ratio"] = doc["migrations"] / ref["migrations"]
    row["acceptance"] = doc["acceptance"]
    if cap is not None:
        row["cap"] = cap
        row["cap_held"] = cap == 0 or int(doc["max_moves_per_vm_day"]) <= cap
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="folder holding the PlanetLab day folders")
    parser.add_argument("--config", type=Path, default=Path(__file__).parent.parent / "config/simulate-planetlab.toml")
    parser.add_argument("--days", default=",".join(DAYS))
    parser.add_argument("--caps", help="comma-separated max_moves_per_vm_per_day values to replay (0 = none)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logsetup.configure("warning", "console", stream=sys.stderr)  # stdout carries only the JSON rows
    caps: list[int | None] = [int(c) for c in args.caps.split(",")] if args.caps else [None]
    with tempfile.TemporaryDirectory() as scratch:
        base = args.out or Path(scratch)
        for day in args.days.split(","):
            for cap in caps:
                folder = base / (day if cap is None else f"{day}-cap{cap}")
                print(json.dumps(run_day(args.config, args.path / day, folder, cap)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
