"""Drain one lab host through the libvirt backend, one live migration at a time, and time it.

Run as root with the lab packages installed (scripts/install-lab-deps):

    .venv/bin/python benchmarks/lab_drain.py [--dir DIR] [--guests 3] [--bandwidth 20] [--host host1]

Uses the lab running in DIR (default: $BALANCERD_LAB_DIR or /var/lib/balancerd-lab); when none runs there
it brings up a 2-host lab with ``--guests`` guests and takes it down at the end. Setup (untimed) gathers the
guests on the drained host at full speed and measures each guest's dirty rate (libvirt's dirty-rate
calculation); the timed part is one plan that moves each of them to the other hosts, run by the real
:class:`~balancerd.execute.Executor` (pre-flight, convergence policy, journal) at ``--bandwidth`` MiB/s.
Prints JSON: seconds; two figures for how close the drain came to the link:

- link_bound_seconds = bytes_moved / bandwidth: the time the capped link needed for the bytes that really moved
  (QEMU's transferred bytes from each completed job: zero pages are not sent, re-dirtied pages are sent again);
  link_ratio = link_bound_seconds / seconds is <= 1 and says how much of the wall time the link was busy
  (the rest is setup, pre-flight, switch-over and the gaps between serial moves);
- memory_bound_seconds = sum(guest memory / (bandwidth - dirty rate)), the figure reported before; it counts
  guest memory QEMU never sends, so memory_ratio = memory_bound_seconds / seconds can exceed 1 and is kept
  only for comparison with older runs.

Also downtime_ms per migration and its p99 (acceptance for idle guests: <= 300 ms), bytes_moved, and a
per-migration breakdown with each move's own link_bound_s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from balancerd import config
from balancerd.backends.base import JobState, JobStats, MigrationRequest
from balancerd.backends.libvirt.cluster import LibvirtCluster
from balancerd.clock import SystemClock
from balancerd.execute import Executor
from balancerd.execute.preflight import Settings
from balancerd.journal import Journal
from balancerd.lab import guests as lab_guests
from balancerd.model import Move, MoveKind, Outcome, Plan

TIMEOUT_S = 300.0


def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balancerd.lab.cli", *args], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL, check=False)


def status_of(lab_dir: Path) -> dict[str, Any] | None:
    result = lab_cli("status", "--json", "--dir", str(lab_dir))
    if result.returncode != 0:
        return None
    status: dict[str, Any] = json.loads(result.stdout)
    return status if status.get("ready") and all(h.get("alive") for h in status["hosts"]) else None


def bring_up(lab_dir: Path, guests: int) -> dict[str, Any]:
    result = lab_cli("up", "--hosts", "2", "--vms", str(guests), "--dir", str(lab_dir))
    if result.returncode != 0:
        raise SystemExit(f"lab up failed: {result.stderr}")
    status = status_of(lab_dir)
    if status is None:
        raise SystemExit("lab up succeeded but status is not ready")
    consoles = [Path(status["consoles"]) / f"{name}.log" for name in status["guests"]]
    lab_guests.wait_ticking(consoles, 180.0)
    return status


def wait_final(backend: LibvirtCluster, vm: str) -> JobStats:
    deadline = time.monotonic() + TIMEOUT_S
    stats = backend.job_stats(vm)
    while not stats.state.final and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = backend.job_stats(vm)
    return stats


def migrate(backend: LibvirtCluster, vm: str, source: str, dest: str, bandwidth: int) -> tuple[JobStats, float]:
    started = time.monotonic()
    backend.start_migration(MigrationRequest(vm, source, dest, bandwidth_mib_s=bandwidth))
    stats = wait_final(backend, vm)
    if stats.state is not JobState.COMPLETED:
        raise SystemExit(f"migration of {vm} {source} -> {dest} ended {stats.state}: {stats.error}")
    return stats, time.monotonic() - started


def gather(backend: LibvirtCluster, host: str, count: int) -> list[tuple[str, int]]:
    """Put ``count`` running guests on ``host`` (untimed); return (name, memory MiB) of each."""
    rows = [r for h in backend.hosts() for r in backend.domain_stats(h.name) if r.running]
    rows.sort(key=lambda r: (r.host != host, r.name))
    if len(rows) < count:
        raise SystemExit(f"the lab runs {len(rows)} guests; {count} needed")
    for row in rows[:count]:
        if row.host != host:
            migrate(backend, row.name, row.host, host, 0)
    return [(r.name, r.memory_mib) for r in rows[:count]]


def dirty_rates(backend: LibvirtCluster, host: str) -> dict[str, int]:
    """MiB/s per guest on ``host`` from libvirt's dirty-rate calculation (kicked by one collection)."""
    backend.domain_stats(host)
    time.sleep(2.5)
    return {row.name: row.dirty_rate_mib_s for row in backend.domain_stats(host)}


def link_seconds(bytes_moved: int, bandwidth_mib_s: int) -> float:
    """Seconds a link capped at ``bandwidth_mib_s`` MiB/s needs to carry ``bytes_moved`` bytes."""
    return bytes_moved / (1 << 20) / max(1, bandwidth_mib_s)


def p99(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-99 * len(ordered) // 100) - 1))] if ordered else 0


def drain(backend: LibvirtCluster, cfg: config.Config, host: str, vms: list[tuple[str, int]], bandwidth: int,
          journal_path: Path) -> dict[str, Any]:
    others = [h.name for h in backend.hosts() if h.name != host]
    dirty = dirty_rates(backend, host)
    moves = tuple(Move(vm, host, others[i % len(others)], MoveKind.LIVE, "drain", 1.0, memory)
                  for i, (vm, memory) in enumerate(vms))
    throttle = dataclasses.replace(cfg.throttle, poll_interval_s=0.05, per_host_out=1)
    migration = dataclasses.replace(cfg.migration, bandwidth_mib_s=bandwidth)
    journal = Journal(journal_path)
    executor = Executor(backend, SystemClock(), Settings(throttle, migration, cfg.network_map), journal)
    plan = Plan(1, time.time(), moves, 0.0, 0.0, strategy="drain")
    started = time.monotonic()
    results = executor.execute(plan, journal.record_plan(plan, "enforce"), lambda _m: None).results
    seconds = time.monotonic() - started
    journal.close()
    failed = [r for r in results if r.outcome is not Outcome.SUCCEEDED]
    if failed:
        raise SystemExit(f"drain incomplete: {[(r.move.vm, r.outcome.value, r.detail) for r in failed]}")
    memory_bound = sum(memory / max(1.0, bandwidth - dirty.get(vm, 0)) for vm, memory in vms)
    moved = sum(r.bytes_transferred for r in results)
    link_bound = link_seconds(moved, bandwidth)
    downtimes = [r.downtime_ms or 0 for r in results]
    return {
        "seconds": round(seconds, 3),
        "link_bound_seconds": round(link_bound, 3),
        "link_ratio": round(link_bound / seconds, 3),
        "memory_bound_seconds": round(memory_bound, 3),
        "memory_ratio": round(memory_bound / seconds, 3),
        "downtime_ms": downtimes,
        "downtime_p99_ms": p99(downtimes),
        "bytes_moved": moved,
        "dirty_rate_mib_s": dirty,
        "guests": len(vms),
        "bandwidth_mib_s": bandwidth,
        "host": host,
        "migrations": [{"vm": r.move.vm, "dest": r.move.dest, "kind": r.move.kind.value,
                        "wall_s": round(r.duration_s, 3), "downtime_ms": r.downtime_ms,
                        "bytes": r.bytes_transferred,
                        "link_bound_s": round(link_seconds(r.bytes_transferred, bandwidth), 3)}
                       for r in results],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", default=os.environ.get("BALANCERD_LAB_DIR", "/var/lib/balancerd-lab"))
    parser.add_argument("--guests", type=int, default=3)
    parser.add_argument("--bandwidth", type=int, default=20, help="MiB/s per migration")
    parser.add_argument("--host", default="host1", help="the host to drain")
    args = parser.parse_args(argv)
    lab_dir = Path(args.dir).absolute()
    status = status_of(lab_dir)
    ours = status is None
    if status is None:
        status = bring_up(lab_dir, args.guests)
    cfg = config.load(Path(status["config"]))
    p2p = {h["name"]: h["p2p_uri"] for h in status["hosts"]}
    try:
        with LibvirtCluster(cfg.hosts, SystemClock(), allow_unsafe=cfg.throttle.allow_unsafe,
                            p2p_uris=p2p) as backend:
            vms = gather(backend, args.host, args.guests)
            result = drain(backend, cfg, args.host, vms, args.bandwidth,
                           lab_dir / f"bench-journal-{os.getpid()}.sqlite")
    finally:
        if ours:
            lab_cli("down", "--dir", str(lab_dir))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
