"""service.status held VMs: what the failure memory holds back, as the status document shows it."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from balancerd.journal import Journal
from balancerd.model import CycleReport, Plan, Resources, Skip
from balancerd.service import report, status
from tests.builders import host, snapshot, vm


def _report(held: tuple[Skip, ...]) -> CycleReport:
    snap = snapshot((host("a", 8000, 8192), host("b", 8000, 8192)), [vm("v1", "a", 1000, 1024,
                                                                        usage=Resources(100, 1024))], at=50.0)
    plan = Plan(1, 50.0, (), 0.0, 0.0, held=held)
    return CycleReport(1, "enforce", 50.0, 0.1, snap, plan, (), report.utilisation(snap), 0.0,
                       report.drain_remaining(snap))


def test_held_vms_are_listed_with_their_reasons() -> None:
    held = (Skip("v1", ("failed 3 times towards b: migration failed: reset",)),)
    doc = status.render(_report(held), (), 1, None, frozenset())
    assert doc["held"] == [{"vm": "v1", "reasons": ["failed 3 times towards b: migration failed: reset"]}]


def test_nothing_held_is_an_empty_list() -> None:
    assert status.render(_report(()), (), 1, None, frozenset())["held"] == []


def test_the_daemons_failure_memory_is_passed_through_extra() -> None:
    failures = [{"vm": "v1", "dest": "b", "count": 1, "retry_at": 350.0, "last_error": "x"}]
    doc = status.render(_report(()), (), 1, None, frozenset(), extra={"failures": failures})
    assert doc["failures"] == failures


def test_failure_memory_reads_the_journal_and_is_empty_when_it_cannot(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record_failure("v1", "b", 50.0, "boom")
    assert status.failure_memory(journal) == [{"vm": "v1", "dest": "b", "count": 1, "retry_at": 350.0,
                                               "last_error": "boom"}]
    journal.close()
    with capture_logs() as logs:
        assert status.failure_memory(journal) == []
    assert logs[0]["event"] == "journal not readable for the status"
