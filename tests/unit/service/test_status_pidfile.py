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
    lock = pidfile.acquire(path)
    assert pidfile.running_pid(path) == os.getpid()
    with pytest.raises(StateError, match=f"already runs with pid {os.getpid()}"):
        pidfile.acquire(path)
    pidfile.release(lock)
    assert not path.exists() and pidfile.running_pid(path) is None


_HOLDER = """
import fcntl, os, sys, time  # a stand-in for balancerd holding its pid file
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, str(os.getpid()).encode())
print("locked", flush=True)
time.sleep(60)
"""


def test_a_pid_file_nobody_holds_names_no_daemon_even_if_the_pid_is_alive(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(f"{unrelated.pid}\n")  # e.g. a daemon killed with -9 whose pid was reused
        assert pidfile.running_pid(path) is None
        pidfile.release(pidfile.acquire(path))  # a starting daemon takes the stale file over
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_live_lock_holder_is_refused_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert pidfile.running_pid(path) == holder.pid  # its command line names balancerd
        with pytest.raises(StateError, match=f"already runs with pid {holder.pid}"):
            pidfile.acquire(path)
    finally:
        holder.kill()
        holder.wait()
    assert pidfile.running_pid(path) is None
