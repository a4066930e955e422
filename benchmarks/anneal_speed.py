"""Steps a second of the engine's compiled annealing (optimize/engine/compiled.py) on one ROADEF instance.

    .venv/bin/python benchmarks/anneal_speed.py --path /work/shared/data/roadef2012/A --instance a2_2

Runs :class:`balancerd.optimize.engine.anneal.Annealer` (what the ROADEF workers' first phase runs) from the
original assignment at a few fixed temperatures, shifts only and swaps only, after one untimed warm-up chunk
(numba compiles on first use, then reads its cache). Prints one JSON line per (temperature, move kind): steps a
second, moves kept, total after the chunk.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from balancerd.optimize.engine.anneal import Annealer
from balancerd.optimize.engine.state import State
from balancerd.roadef.instance import load_assignment, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="folder with model_NAME.txt, assignment_NAME.txt")
    parser.add_argument("--instance", default="a2_2")
    parser.add_argument("--steps", type=int, default=2_000_000, help="steps per measured chunk")
    args = parser.parse_args()
    inst = load_model(args.path / f"model_{args.instance}.txt")
    original = load_assignment(args.path / f"assignment_{args.instance}.txt", inst)
    annealer = Annealer(State(inst, original))
    annealer.run(10_000, 1.0, 1.0, 0, 0.5)
    per_process = annealer.total / inst.n_processes
    for factor in (1.0, 0.05, 0.001):
        for kind, share in (("shift", 0.0), ("swap", 1.0)):
            began = time.perf_counter()
            kept = annealer.run(args.steps, factor * per_process, factor * per_process, 1, share)
            took = time.perf_counter() - began
            print(json.dumps({"instance": args.instance, "temperature_per_process_cost": factor, "move": kind,
                              "steps_per_s": round(args.steps / took), "kept": kept, "total": annealer.total}))


if __name__ == "__main__":
    main()
