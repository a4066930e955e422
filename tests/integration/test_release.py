"""`balancerctl release VM` as a process: against a simulated `balancerd run`, then with no daemon running.

The failure memory is put into the journal file before the daemon starts (as a previous run would have left
it); the daemon must show it in its status, `release` must clear it through the control API (journalled), and
once the daemon has stopped, `release` must clear the journal file itself and say that it did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from balancerd.journal import Journal
from tests.integration.processes import scrape, sim_daemon_config, status_doc, stop, wait_for

CONFIG = sim_daemon_config(speed=300.0, max_moves=4, metrics='address = "127.0.0.1"\nport = 0')
BIN = Path(sys.executable).parent
START_S = 60.0


def _ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "balancerctl"), "--config", str(config), *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


def _remember(journal_path: Path, *pairs: tuple[str, str]) -> None:
    journal = Journal(journal_path)
    try:
        for vm, dest in pairs:
            journal.record_failure(vm, dest, 0.0, f"migration failed: {vm} to {dest}")
    finally:
        journal.close()


def test_release_through_the_daemon_then_on_the_journal_file(tmp_path: Path) -> None:
    config = tmp_path / "balancerd.toml"
    config.write_text(CONFIG)
    journal = tmp_path / "journal.sqlite"
    _remember(journal, ("vm-a", "host02"), ("vm-a", "host03"), ("vm-b", "host01"))
    log = (tmp_path / "daemon.log").open("a")
    proc = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_for(lambda: bool(status_doc(tmp_path)) or proc.poll() is not None, START_S, "the first cycle")
        assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
        doc = json.loads(_ctl(config, "status", "--json").stdout)
        assert [(f["vm"], f["dest"], f["count"]) for f in doc["failures"]] == [
            ("vm-a", "host02", 1), ("vm-a", "host03", 1), ("vm-b", "host01", 1)]
        assert doc["held"] == []
        assert "\nbalancerd_vms_held 0.0\n" in scrape(doc["metrics_port"])

        released = _ctl(config, "release", "vm-a", "--json")
        assert released.returncode == 0, released.stderr
        answer = json.loads(released.stdout)
        assert (answer["released"], answer["offline"]) == (True, False)
        assert [c["dest"] for c in answer["cleared"]] == ["host02", "host03"]
        doc = json.loads(_ctl(config, "status", "--json").stdout)
        assert [f["vm"] for f in doc["failures"]] == ["vm-b"]

        again = _ctl(config, "release", "vm-a")
        assert again.returncode == 0 and again.stdout.strip() == "vm-a: nothing to release (no failed moves remembered)"
    finally:
        stop(proc, timeout=60)
        log.close()
    assert proc.returncode == 0

    offline = _ctl(config, "release", "vm-b")
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.startswith("released vm-b: 1 failure record(s) cleared in the journal file")
    assert "balancerd is not running" in offline.stderr
    reopened = Journal(journal)
    try:
        assert reopened.failures() == ()
        actions = [(a.action, a.detail) for a in reopened.actions()]
        assert actions[:3] == [("release", "vm-b: 1 failure records cleared"),
                               ("release", "vm-a: 0 failure records cleared"),
                               ("release", "vm-a: 2 failure records cleared")]
    finally:
        reopened.close()
