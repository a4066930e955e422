"""One warm daemon cycle on a large simulated cluster: the code ``balancerd run`` runs every interval.

Run: ``.venv/bin/python benchmarks/cycle_scale.py [--hosts 1000] [--vms 20000] [--cycles 5] [--mode recommend]``.
Prints one JSON object.

It builds the real :class:`~balancerd.service.daemon.Daemon` over the simulated backend (``[sim] hosts``,
``vms``; the bundled PlanetLab trace drives the demand) with a fake clock that advances ``interval_s`` between
cycles, primes it as ``serve()`` does, runs one untimed cycle (warm-up: first collection, first plan), then
times ``--cycles`` calls of the scheduler's cycle job: collection (the parallel collector), forecast, plan,
journal, metrics and the status file. In mode ``enforce`` the plan is handed to the execution worker as in the
daemon, and the cycle does not wait for it (moves run in the background, competing for the CPU).
Target (issue 18): <= 2 s per cycle at 1,000 hosts x 20,000 VMs; peak RSS is reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog

from balancerd import config as config_mod
from balancerd.clock import FakeClock
from balancerd.service.daemon import Daemon


def build(tmp: Path, hosts: int, vms: int, mode: str) -> Daemon:
    table: dict[str, object] = {
        "mode": mode, "interval_s": 60.0, "backend": "sim", "sim": {"hosts": hosts, "vms": vms},
        "paths": {"maintenance_file": "maintenance", "journal": "journal.sqlite", "pid_file": "p.pid",
                  "status_file": "status.json"},
        "control": {"socket": "control.sock", "pause_file": "pause", "pause_state": "paused.json"},
        "metrics": {"enabled": False},
    }
    cfg = config_mod.from_table(table, tmp)
    return Daemon(cfg, FakeClock(time.time()))


def timed_cycles(daemon: Daemon, count: int) -> list[float]:
    clock = daemon.clock
    assert isinstance(clock, FakeClock)
    seconds = []
    for _ in range(count):
        clock.advance(daemon.config.interval_s)
        t0 = time.perf_counter()
        daemon._cycle()
        seconds.append(time.perf_counter() - t0)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--mode", choices=("recommend", "enforce"), default="recommend")
    args = parser.parse_args(argv)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout carries the JSON only
    with tempfile.TemporaryDirectory(prefix="balancerd-cycle-") as tmp:
        t0 = time.perf_counter()
        daemon = build(Path(tmp), args.hosts, args.vms, args.mode)
        daemon.runner.prime()
        build_s = time.perf_counter() - t0
        warm = timed_cycles(daemon, 1)[0]
        seconds = timed_cycles(daemon, args.cycles)
        report = daemon._last_report
        daemon.stop_event.set()
        daemon.worker.join(60.0)
        daemon.journal.close()
    print(json.dumps({
        "hosts": args.hosts, "vms": args.vms, "mode": args.mode, "build_seconds": round(build_s, 3),
        "first_cycle_seconds": round(warm, 3), "cycle_seconds": [round(s, 3) for s in seconds],
        "cycle_median_seconds": round(statistics.median(seconds), 3), "cycle_max_seconds": round(max(seconds), 3),
        "target_seconds": 2.0, "moves_last_plan": len(report.plan.moves) if report else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
