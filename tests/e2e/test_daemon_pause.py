"""`balancerctl pause --abort-running` during a real live migration (issue 18).

Its own 2-host lab with one guest on host1. The daemon runs on the lab's config with a 2 MiB/s cap, so moving
the 96 MiB guest takes about 50 s; host1 goes into maintenance through `balancerctl` (the API); once QEMU has
sent the first bytes, `balancerctl pause --abort-running --json` aborts the migration: the guest keeps running
on host1, defined once, the journal closes the move as aborted, and no new migration starts in the next
cycles. `balancerctl resume` lets the drain go on to the end.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from balancerd import config as config_mod
from balancerd.journal import Journal

from .conftest import private_lab
from .libvirt_lab import bytes_sent, host_uri, status_cycle, transfer_deadline_s, wait_until, where

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
BANDWIDTH_MIB_S = 2


@pytest.fixture(scope="module")
def pause_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-pause", hosts=2, vms=1) as status:
        yield status


def _ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "balancerctl"), "--config", str(config), *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)








def _entries(path: Path) -> list[Any]:
    journal = Journal(path)
    try:
        return sorted(journal.migrations(), key=lambda e: e.id)
    finally:
        journal.close()


def test_pause_with_abort_running_during_a_live_migration(pause_lab: dict[str, Any], tmp_path: Path) -> None:
    base = Path(pause_lab["config"])
    config_path = tmp_path / "balancerd.toml"
    config_path.write_text(base.read_text() + f"\n[migration]\nbandwidth_mib_s = {BANDWIDTH_MIB_S}\n"
                           f'shared_paths = ["/var/lib/libvirt/shared"]\n')
    cfg = config_mod.load(config_path)
    for stale in (cfg.paths.journal, cfg.paths.status_file, cfg.control.pause_state, cfg.paths.maintenance_file):
        stale.unlink(missing_ok=True)
    source = host_uri(pause_lab, "host1")
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config_path)], stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: daemon.poll() is not None or (cfg.control.socket.exists()
                                                         and status_cycle(cfg.paths.status_file) > 0),
                   60, "the first cycle")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        entered = _ctl(config_path, "maintenance", "enter", "host1")
        assert entered.returncode == 0, entered.stderr
        wait_until(lambda: bytes_sent(source, "vm1") > 0, transfer_deadline_s(BANDWIDTH_MIB_S),
              "the migration of vm1 to send its first bytes")
        paused = _ctl(config_path, "pause", "--abort-running", "--json")
        assert paused.returncode == 0, paused.stderr
        answer = json.loads(paused.stdout)
        assert [(a["vm"], a["source"], a["verified"]) for a in answer["aborted"]] == [("vm1", "host1", True)]
        assert where(pause_lab, "vm1") == [("host1", libvirt.VIR_DOMAIN_RUNNING)]  # running on its source, once
        (entry,) = _entries(cfg.paths.journal)
        assert entry.outcome is not None and entry.outcome.value == "aborted", entry
        now = status_cycle(cfg.paths.status_file)
        wait_until(lambda: status_cycle(cfg.paths.status_file) >= now + 2, 4 * cfg.interval_s + 30, "two more cycles")
        assert len(_entries(cfg.paths.journal)) == 1, "a migration started while paused"
        status = json.loads(_ctl(config_path, "status", "--json").stdout)
        assert status["paused"] is True and status["paused_by"].startswith("uid 0")
        resumed = _ctl(config_path, "resume")
        assert resumed.returncode == 0, resumed.stderr
        wait_until(lambda: where(pause_lab, "vm1") == [("host2", libvirt.VIR_DOMAIN_RUNNING)],
              transfer_deadline_s(BANDWIDTH_MIB_S) + 4 * cfg.interval_s, "the drain to go on after resume")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=180)
        log.close()
        cfg.paths.maintenance_file.write_text("")
    assert code == 0, (tmp_path / "daemon.log").read_text()
