"""service.control release and the daemon's status: the failure memory as the operator sees and clears it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd import optimize
from balancerd.model import FailureRecord
from tests.unit.service.test_daemon_live import ROOT, START, Rig


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    """A daemon of ``test_daemon_live`` (mode enforce), stopped afterwards."""
    made = Rig(tmp_path)
    yield made
    made.daemon.stop_event.set()
    made.finish()
    made.daemon.journal.close()


def test_release_clears_every_row_of_the_vm_and_journals_who_asked(rig: Rig) -> None:
    journal = rig.daemon.journal
    journal.record_failure("a", "h2", START, "migration failed: reset")
    journal.record_failure("a", "h3", START, "pre-flight failed: cpu")
    journal.record_failure("b", "h2", START, "migration failed: reset")
    answer = rig.control.release("a", ROOT)
    assert answer["vm"] == "a" and answer["released"] is True and answer["offline"] is False
    assert [(r["dest"], r["count"]) for r in answer["cleared"]] == [("h2", 1), ("h3", 1)]
    assert [r.vm for r in journal.failures()] == ["b"]
    action = journal.actions()[0]
    assert (action.caller, action.action, action.detail) == (ROOT.describe(), "release", "a: 2 failure records cleared")


def test_releasing_a_vm_without_records_is_nothing_to_release(rig: Rig) -> None:
    assert rig.control.release("zz", ROOT) == {"vm": "zz", "released": False, "offline": False, "cleared": []}
    assert rig.daemon.journal.actions()[0].detail == "zz: 0 failure records cleared"


def test_the_status_shows_the_failure_memory_and_the_held_vms(rig: Rig) -> None:
    assert rig.control.status()["held"] == [] and rig.control.status()["failures"] == []
    rig.daemon.journal.record_failure("a", "h2", START, "boom")
    rig.cycle()
    doc = rig.control.status()
    assert doc["failures"] == [{"vm": "a", "dest": "h2", "count": 1, "retry_at": START + 300.0, "last_error": "boom"}]
    assert doc["held"] == []  # the optimizer holds nobody until it honours the memory (Plan.held)


def test_explain_hands_the_proposals_inputs_to_the_optimizer(rig: Rig,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rig.daemon.journal.record_failure("a", "h2", START, "boom")
    rig.cycle()
    assert rig.daemon.last_proposal is not None
    proposal = rig.daemon.last_proposal[0]
    assert proposal.failures == (FailureRecord("a", "h2", 1, START + 300.0, "boom"),)
    seen: list[object] = []
    real = optimize.explain

    def explain(*args: Any, **kwargs: Any) -> tuple[str, ...]:
        seen.append((kwargs.get("failures"), kwargs.get("limits")))
        return real(*args, **kwargs)

    monkeypatch.setattr("balancerd.service.cycle.optimize.explain", explain)
    answer = rig.control.explain("a")
    assert seen == [(proposal.failures, proposal.limits)]
    assert answer["failures"] == [{"vm": "a", "dest": "h2", "count": 1, "retry_at": START + 300.0,
                                   "last_error": "boom"}]
    assert rig.control.explain("b")["failures"] == []


def test_an_abort_the_operator_asked_for_is_not_remembered(rig: Rig) -> None:
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    (moving,) = rig.backend.wait_started(1)
    rig.control.pause(True, ROOT)
    (entry,) = rig.journal()
    assert entry.vm == moving and entry.outcome is not None and entry.outcome.value == "aborted"
    assert rig.daemon.journal.failures() == ()


def test_a_migration_that_failed_in_the_daemon_is_remembered(rig: Rig) -> None:
    rig.control.maintenance("h1", True, ROOT)
    rig.backend.fail_next_migration("a", "link down")
    rig.cycle()
    rig.finish()
    failed = [e for e in rig.journal() if e.vm == "a" and e.outcome is not None and e.outcome.value == "failed"]
    assert failed, rig.journal()
    (record,) = [r for r in rig.daemon.journal.failures() if r.vm == "a"]
    assert record.dest == failed[0].dest and record.count == 1 and "link down" in record.last_error
    assert rig.control.status()["failures"][0]["vm"] == "a"
