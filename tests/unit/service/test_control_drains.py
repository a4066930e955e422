"""service.control and the drain proof: ``drain_check`` on the daemon's last collection, ``maintenance`` with
``force`` in the file, the proof in the status document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd import maintenance
from balancerd.api.protocol import ConflictError, NotFoundError
from tests.unit.service.test_daemon_live import ROOT, Rig


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    """A daemon of ``test_daemon_live`` in mode recommend (nothing moves), stopped afterwards."""
    made = Rig(tmp_path, "recommend")
    yield made
    made.daemon.stop_event.set()
    made.finish()
    made.daemon.journal.close()


def test_drain_check_before_the_first_cycle_is_a_conflict(rig: Rig) -> None:
    with pytest.raises(ConflictError, match="first cycle"):
        rig.control.drain_check("h1")


def test_drain_check_answers_the_proof_on_the_last_snapshot(rig: Rig) -> None:
    rig.cycle()
    answer = rig.control.drain_check("h1")
    seq = rig.daemon.last_proposal[0].collected.snapshot.seq  # type: ignore[index]
    assert (answer["host"], answer["feasible"], answer["source"], answer["snapshot_seq"]) == ("h1", True, "daemon", seq)
    assert sorted(m["vm"] for m in answer["moves"]) == ["a", "b"] and answer["blockers"] == []
    assert all(set(m) == {"vm", "dest", "kind", "seconds"} for m in answer["moves"])
    assert not maintenance.read(rig.config.paths.maintenance_file)
    with pytest.raises(NotFoundError, match="h9"):
        rig.control.drain_check("h9")


def test_a_host_after_the_others_has_nowhere_to_go(rig: Rig) -> None:
    for host in ("h2", "h3", "h4"):
        rig.control.maintenance(host, True, ROOT)
    rig.cycle()
    answer = rig.control.drain_check("h1")
    assert not answer["feasible"] and sorted(b["vm"] for b in answer["blockers"]) == ["a", "b"]
    assert answer["after"] == ["h3", "h4"]  # h2's own VMs have nowhere to go either: refused, not counted


def test_maintenance_force_is_written_and_shown_in_the_status(rig: Rig) -> None:
    for host in ("h2", "h3", "h4", "h1"):
        rig.control.maintenance(host, True, ROOT)
    answer = rig.control.maintenance("h2", True, ROOT, force=True)
    assert answer["changed"] is True
    assert maintenance.read_entries(rig.config.paths.maintenance_file) == (
        ("h2", True), ("h3", False), ("h4", False), ("h1", False))
    rig.cycle()
    drains = rig.control.status()["drains"]
    assert drains["h2"]["proof"]["forced"] is True and drains["h2"]["proof"]["feasible"] is False
    assert drains["h3"]["proof"] == {"feasible": True, "forced": False, "moves_left": 0, "estimated_s": 0.0,
                                     "blockers": []}
    assert "maintenance enter --force" in [a.action for a in rig.daemon.journal.actions()]
