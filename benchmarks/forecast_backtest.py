"""Forecast backtests over every reference data set: what ``balancerd bench forecast`` prints, for each set.

Run: ``.venv/bin/python benchmarks/forecast_backtest.py [--path /work/shared/data] [--horizon STEPS]
[--predictions-dir DIR]``. Prints one JSON object per line per data set: PlanetLab 2011-03-03, 03-06, 03-09
(``planetlab/<day>``) and Bitbrains Rnd (``bitbrains_rnd/2013-7``), then a summary line saying whether the
acceptance targets hold on every set (1-step MAE below persistence and AR(12), p95 coverage in [93 %, 97 %]).
Same defaults for every set: those of ``[predict]`` in config/balancerd.toml. Each set is equivalent to e.g.
``balancerd bench forecast --format planetlab --path /work/shared/data/planetlab/20110303 --json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from balancerd.bench import forecast, forecast_io

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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
