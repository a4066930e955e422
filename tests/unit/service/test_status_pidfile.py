"""service.status and service.pidfile: round trips and refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from balancerd.errors import StateError
from balancerd.model import CycleReport, InFlight, Plan, Resources
from balancerd.service import pidfile, report, status
from tests.builders import host, snapshot, vm


def _report() -> CycleReport:
    snap = snapshot([host("a", 1000, 1000, usage=Resources(500, 100), maintenance=True),
                     host("b", 1000, 1000, reachable=False)],
                    [vm("v", "a", 1000, 100, usage=Resources(500, 100))], seq=3, at=10.0)
    plan = Plan(3, 10.0, (), 0.0, 0.0)
    return CycleReport(4, "enforce", 10.0, 0.1, snap, plan, (), report.utilisation(snap), 0.0,
                       report.drain_remaining(snap))


def test_status_round_trip(tmp_path: Path) -> None:
    doc = status.render(_report(), (InFlight("v", "a", "b"),), 42, 9177, frozenset({"a"}))
    path = tmp_path / "run" / "status.json"
    status.write(path, doc)
    back = status.read(path)
    assert back["hosts"][0] == {"name": "a", "reachable": True, "maintenance": True, "vms": 1, "vms_mem_mib": 100,
                                "cpu_util": 0.5, "memory_util": 0.1, "capacity_cpu_m": 1000,
                                "capacity_mem_mib": 1000}
    assert back["hosts"][1]["cpu_util"] is None
    assert back["drain_remaining"] == {"a": 1}
    assert back["in_flight"] == [{"vm": "v", "source": "a", "dest": "b"}]


def test_status_missing_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="is balancerd running"):
        status.read(tmp_path / "none.json")


def test_pidfile_acquire_release(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    pidfile.acquire(path)
    assert pidfile.running_pid(path) == os.getpid()
    pidfile.release(path)
    assert not path.exists()


def test_pidfile_refuses_a_live_other_process(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(f"{child.pid}\n")
        with pytest.raises(StateError, match=f"already runs with pid {child.pid}"):
            pidfile.acquire(path)
    finally:
        child.kill()
        child.wait()
    assert pidfile.running_pid(path) is None
    pidfile.acquire(path)  # a stale file is taken over
