"""`balancerd run` in enforce mode on the real lab drains a host put into maintenance with `balancerctl`.

Brings up its own 3-host lab (the session lab's placement stays untouched), starts the daemon on the config
the lab wrote, puts host1 into maintenance, and waits until every guest runs on another host, defined
exactly once; the journal then holds a succeeded live migration for the drained guest.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd import config as config_mod
from balancerd.journal import Journal
from balancerd.model import Outcome
from tests.e2e.conftest import lab_status, private_lab

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
DRAIN_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def drain_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-drain", hosts=3, vms=3) as status:
        yield status


def _placement(lab_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """guest -> [(host, state)] over every host: a guest defined twice shows up twice."""
    where: dict[str, list[tuple[str, str]]] = {}
    for host in lab_status(lab_dir)["hosts"]:
        for guest in host["guests"]:
            where.setdefault(guest["name"], []).append((host["name"], guest["state"]))
    return where


def test_daemon_drains_a_host_put_into_maintenance(drain_lab: dict[str, Any], tmp_path: Path) -> None:
    lab_dir = Path(drain_lab["dir"])
    config_path = Path(drain_lab["config"])
    config = config_mod.load(config_path)
    before = _placement(lab_dir)
    on_host1 = sorted(g for g, places in before.items() if places[0][0] == "host1")
    assert on_host1, f"the lab put no guest on host1: {before}"
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config_path)], stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for(lambda: config.paths.status_file.exists() or daemon.poll() is not None, 60, "first cycle")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        ctl = subprocess.run([str(BIN / "balancerctl"), "--config", str(config_path), "maintenance", "enter",
                              "host1"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert ctl.returncode == 0, ctl.stderr
        _wait_for(lambda: _drained(lab_dir, before), DRAIN_TIMEOUT_S, "host1 to be drained")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "daemon.log").read_text()
    after = _placement(lab_dir)
    for guest in before:
        assert len(after[guest]) == 1, f"{guest} defined on {after[guest]}"
        host, state = after[guest][0]
        assert host != "host1" and state == "running", (guest, host, state)
    journal = Journal(config.paths.journal)
    try:
        moved = {e.vm for e in journal.migrations() if e.source == "host1" and e.outcome is Outcome.SUCCEEDED}
        assert not journal.unfinished()
    finally:
        journal.close()
    assert moved >= set(on_host1)


def _drained(lab_dir: Path, before: dict[str, list[tuple[str, str]]]) -> bool:
    after = _placement(lab_dir)
    return all(len(after.get(g, [])) == 1 and after[g][0][0] != "host1" and after[g][0][1] == "running"
               for g in before)


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
