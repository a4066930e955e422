"""Forecast backtests over every reference data set: what ``balancerd bench forecast`` prints, for each set.

Run: ``.venv/bin/python benchmarks/forecast_backtest.py [--path /work/shared/data] [--horizon STEPS]
[--predictions-dir DIR] [--scale VMS]``. Prints one JSON object per line per data set: PlanetLab 2011-03-03,
03-06, 03-09 (``planetlab/<day>``) and Bitbrains Rnd (``bitbrains_rnd/2013-7``), then a summary line saying
whether the acceptance targets hold on every set (1-step MAE below persistence and AR(12), p95 coverage in
[93 %, 97 %]). With ``--scale VMS`` it instead times the daemon's predictor: VMS VMs (PlanetLab 2011-03-03 CPU
series, repeated, on VMs of 1-8 vCPUs) observed for 288 cycles, then one retrain() and three forecast() calls.
Same defaults for every set: those of ``[predict]`` in config/balancerd.toml. Each set is equivalent to e.g.
``balancerd bench forecast --format planetlab --path /work/shared/data/planetlab/20110303 --json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from balancerd.bench import forecast, forecast_io
from balancerd.config import PredictConfig
from balancerd.model import ClusterSnapshot, Host, Resources, Vm
from balancerd.predict import Predictor
from balancerd.traces import read_planetlab

SETS = (
    ("planetlab-20110303", "planetlab", "planetlab/20110303"),
    ("planetlab-20110306", "planetlab", "planetlab/20110306"),
    ("planetlab-20110309", "planetlab", "planetlab/20110309"),
    ("bitbrains-rnd", "bitbrains", "bitbrains_rnd/2013-7"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=Path("/work/shared/data"), help="the reference data folder")
    parser.add_argument("--horizon", type=int, default=1, metavar="STEPS")
    parser.add_argument("--predictions-dir", type=Path, help="write <set>.csv predictions here")
    parser.add_argument("--scale", type=int, metavar="VMS", help="time the daemon's predictor on VMS VMs instead")
    args = parser.parse_args(argv)
    if args.scale:
        print(json.dumps(scale(args.path / "planetlab/20110303", args.scale)))
        return 0
    accepted = {}
    for name, fmt, sub in SETS:
        result, rows = forecast.run(fmt, args.path / sub, args.horizon)
        if args.predictions_dir is not None:
            args.predictions_dir.mkdir(parents=True, exist_ok=True)
            forecast_io.write_predictions(args.predictions_dir / f"{name}.csv", rows)
        result["set"] = name
        accepted[name] = all(v for k, v in result["acceptance"].items() if not k.startswith("stretch"))
        print(json.dumps(result), flush=True)
    print(json.dumps({"summary": "acceptance", "every_set": all(accepted.values()), "by_set": accepted}))
    return 0 if all(accepted.values()) else 1


def scale(folder: Path, vms: int) -> dict[str, object]:
    """Seconds (wall and CPU) of retrain() and forecast() of the daemon's predictor on ``vms`` VMs."""
    series = np.array([vm.cpu_pct for vm in read_planetlab(folder).vms])
    cpu_pct = series[np.arange(vms) % len(series)]
    vcpus = np.random.default_rng(1).choice([1, 2, 4, 8], size=vms)
    sizes = [Resources(int(c) * 1000, int(c) * 2048) for c in vcpus]
    predictor = Predictor(PredictConfig(), step_s=300)
    for step in range(cpu_pct.shape[1]):
        predictor.observe(_snapshot(step, sizes, cpu_pct[:, step].tolist()))
    wall, cpu = time.perf_counter(), time.process_time()
    report = predictor.retrain()
    train_s, train_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    forecast_s = []
    for _ in range(3):
        wall = time.perf_counter()
        predictor.forecast()
        forecast_s.append(round(time.perf_counter() - wall, 3))
    return {"scale_vms": vms, "trained": report.trained, "training_rows": report.rows, "train_s": round(train_s, 2),
            "train_cpu_s": round(train_cpu_s, 2), "forecast_s": forecast_s}


def _snapshot(step: int, sizes: list[Resources], load_pct: list[float]) -> ClusterSnapshot:
    vms = tuple(Vm(f"vm{i}", "h", size, Resources(int(size.cpu_m * pct / 100), int(size.mem_mib * (0.3 + pct / 250))))
                for i, (size, pct) in enumerate(zip(sizes, load_pct, strict=True)))
    return ClusterSnapshot(step, 300.0 * step, (Host("h", Resources(10**9, 10**9)),), vms)


if __name__ == "__main__":
    sys.exit(main())
