"""`balancerd run` on the real lab brings drained guests back after maintenance (issue 21 item 1).

A private 3-host lab with a further guest added on host1. host1 is drained (`balancerctl drain host1`); once it
is empty, `balancerctl maintenance exit host1 --restore` opens the restore, and the daemon moves every guest
the drain took off host1 back to it: each ends running once, on host1, and the journal holds one drain and
one return per guest (no migration started twice). The drained guests are in cooldown meanwhile, so balancing
does not move them elsewhere first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd import config as config_mod
from balancerd.journal import Journal
from balancerd.lab import extra, paths
from balancerd.model import Outcome
from tests.e2e.conftest import private_lab
from tests.e2e.libvirt_lab import ctl, running_daemon, wait_tick_beyond
from tests.e2e.test_daemon_drain import DRAIN_TIMEOUT_S, _placement, _wait_for

pytestmark = pytest.mark.e2e

BOOT_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def restore_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-restore", hosts=3, vms=3) as status:
        yield status


def _all_on(lab_dir: Path, guests: list[str], host: str) -> bool:
    where = _placement(lab_dir)
    return all(where.get(g) == [(host, "running")] for g in guests)


def _off(lab_dir: Path, guests: list[str], host: str) -> bool:
    where = _placement(lab_dir)
    return all(len(where.get(g, [])) == 1 and where[g][0][0] != host and where[g][0][1] == "running" for g in guests)


def test_drained_guests_come_back_after_maintenance(restore_lab: dict[str, Any], tmp_path: Path) -> None:
    lab_dir = Path(restore_lab["dir"])
    console = extra.add_guest(paths.LabLayout(lab_dir), 1, "back1")
    assert wait_tick_beyond(console, 0, BOOT_TIMEOUT_S) > 0, "back1 did not boot"
    config_path = Path(restore_lab["config"])
    on_host1 = sorted(g for g, places in _placement(lab_dir).items() if places == [("host1", "running")])
    assert len(on_host1) >= 2, on_host1
    with running_daemon(config_path, tmp_path / "daemon.log"):
        drain = ctl(config_path, "drain", "host1")
        assert drain.returncode == 0, drain.stderr
        _wait_for(lambda: _off(lab_dir, on_host1, "host1"), DRAIN_TIMEOUT_S, "host1 to be drained")
        back = ctl(config_path, "maintenance", "exit", "host1", "--restore")
        assert back.returncode == 0, back.stderr
        assert "its drained VMs come back" in back.stderr, back.stderr
        _wait_for(lambda: _all_on(lab_dir, on_host1, "host1"), DRAIN_TIMEOUT_S, "the drained guests back on host1")
    journal = Journal(config_mod.load(config_path).paths.journal)
    try:
        rows = [(e.vm, e.source, e.dest) for e in journal.migrations()
                if e.vm in on_host1 and e.outcome is Outcome.SUCCEEDED]
        assert not journal.unfinished()
    finally:
        journal.close()
    assert sorted(vm for vm, _source, dest in rows if dest == "host1") == on_host1, rows
    assert Counter(vm for vm, source, _dest in rows if source == "host1") == Counter(on_host1), rows
