"""reconcile(): rows a crash left open, closed against what the backend reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from balancerd.backends.base import DomainState, Placement
from balancerd.clock import FakeClock
from balancerd.errors import TransientBackendError
from balancerd.journal import Journal
from balancerd.model import Outcome
from balancerd.reconcile import reconcile

from .test_journal import ended, mv


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "state" / "journal.sqlite")
    yield opened
    opened.close()


@pytest.mark.parametrize(("hosts", "outcome", "words"), [
    (("h2",), Outcome.SUCCEEDED, "reconciled after restart: found on dest"),
    (("h1",), Outcome.ABORTED, "still on source"),
    (("h1", "h2"), Outcome.FAILED, "defined on both hosts: operator must check"),
    ((), Outcome.FAILED, "not found on any host"),
    (("h9",), Outcome.FAILED, "operator must check"),
])
def test_reconcile_closes_interrupted_moves(journal: Journal, hosts: tuple[str, ...], outcome: Outcome,
                                            words: str) -> None:
    record = journal.migration_started(1, mv(), 100.0)
    messages = reconcile(journal, lambda vm: hosts, 500.0)
    assert len(messages) == 1 and words in messages[0] and "web1" in messages[0]
    assert journal.unfinished() == ()
    (entry,) = journal.migrations()
    assert (entry.id, entry.outcome, entry.finished_at) == (record, outcome, 500.0)
    assert words in entry.detail


def test_reconcile_leaves_rows_open_when_the_vm_cannot_be_located(journal: Journal) -> None:
    journal.migration_started(1, mv(), 100.0)
    ended_row = journal.migration_started(1, mv("db1"), 100.0)
    journal.migration_ended(ended_row, ended(mv("db1"), Outcome.SUCCEEDED, 120.0))

    def locate(vm: str) -> tuple[str, ...]:
        raise TransientBackendError("h1 unreachable")

    messages = reconcile(journal, locate, 500.0)
    assert len(messages) == 1 and "left open" in messages[0] and "h1 unreachable" in messages[0]
    assert [e.vm for e in journal.unfinished()] == ["web1"]


@pytest.mark.parametrize(("later_source", "outcome", "words"), [
    ("h1", Outcome.ABORTED, "not moved: head-b's move #2 later found it still on h1"),
    ("h2", Outcome.SUCCEEDED, "head-b's move #2 later found it on h2"),
])
def test_a_later_move_of_another_head_settles_an_open_row_whatever_the_vm_is_now(
        journal: Journal, later_source: str, outcome: Outcome, words: str) -> None:
    journal.migration_started(1, mv(), 100.0, term=3, head="head-a")  # killed before or after it started
    later = mv(source=later_source, dest="h3")
    journal.migration_ended(journal.migration_started(0, later, 130.0, term=9, head="head-b"),
                            ended(later, Outcome.SUCCEEDED, 140.0))
    reconcile(journal, lambda vm: pytest.fail("the later move decides, not where the VM is"), 500.0)
    entry = next(e for e in journal.migrations() if e.head == "head-a")
    assert (entry.outcome, entry.detail) == (outcome, words)


def test_reconcile_with_nothing_open_says_nothing(journal: Journal) -> None:
    assert reconcile(journal, lambda vm: pytest.fail("must not locate"), 1.0) == ()


# -- pre-flight checks and full reconciliation (issue 6) -----------------------------------------------------


@dataclass
class FakeInspector:
    """Copies of each VM per host; a job ends after ``job_polls`` inspections."""

    copies: dict[str, list[Placement]]
    job_polls: int = 0
    resumed: list[tuple[str, str]] = field(default_factory=list)
    undefined: list[tuple[str, str]] = field(default_factory=list)

    def inspect(self, vm: str) -> tuple[Placement, ...]:
        if self.job_polls > 0:
            self.job_polls -= 1
        else:
            self.copies[vm] = [replace(c, job_active=False) for c in self.copies[vm]]
        return tuple(self.copies[vm])

    def resume(self, vm: str, host: str) -> None:
        self.resumed.append((vm, host))
        self.copies[vm] = [replace(c, state=DomainState.RUNNING) if c.host == host else c for c in self.copies[vm]]

    def undefine(self, vm: str, host: str) -> None:
        self.undefined.append((vm, host))
        self.copies[vm] = [c for c in self.copies[vm] if c.host != host]

    def locate(self, vm: str) -> tuple[str, ...]:
        return tuple(c.host for c in self.copies[vm])


def test_reconcile_resumes_a_paused_vm_and_removes_the_stale_copy(journal: Journal) -> None:
    journal.migration_started(1, mv(), 10.0)
    backend = FakeInspector({"web1": [Placement("h1", DomainState.SHUTOFF), Placement("h2", DomainState.PAUSED)]})
    (message,) = reconcile(journal, backend.locate, 500.0, FakeClock(0.0))  # a bound locate is enough
    assert backend.resumed == [("web1", "h2")] and backend.undefined == [("web1", "h1")]
    assert "succeeded" in message and "resumed the paused VM on h2" in message
    (entry,) = journal.migrations()
    assert entry.outcome is Outcome.SUCCEEDED and entry.finished_at == 500.0
    assert [c.state for c in backend.copies["web1"]] == [DomainState.RUNNING]


def test_reconcile_waits_for_a_job_libvirt_still_runs(journal: Journal) -> None:
    journal.migration_started(1, mv(), 10.0)
    backend = FakeInspector({"web1": [Placement("h1", DomainState.RUNNING, job_active=True)]}, job_polls=5)
    clock = FakeClock(0.0)
    (message,) = reconcile(journal, backend, 500.0, clock)
    assert "aborted" in message and clock.now() >= 4.0
    assert journal.unfinished() == ()


def test_reconcile_leaves_a_row_open_while_the_job_outlasts_the_wait(journal: Journal) -> None:
    journal.migration_started(1, mv(), 10.0)
    backend = FakeInspector({"web1": [Placement("h1", DomainState.RUNNING, job_active=True)]}, job_polls=10**6)
    (message,) = reconcile(journal, backend, 500.0, FakeClock(0.0))
    assert "still running" in message and len(journal.unfinished()) == 1


def test_reconcile_never_touches_a_vm_running_twice(journal: Journal) -> None:
    journal.migration_started(1, mv(), 10.0)
    backend = FakeInspector({"web1": [Placement("h1", DomainState.RUNNING), Placement("h2", DomainState.PAUSED)]})
    (message,) = reconcile(journal, backend, 500.0, FakeClock(0.0))
    assert backend.resumed == [] and backend.undefined == []
    assert "operator must check" in message
