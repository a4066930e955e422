"""The failure memory: back-off arithmetic, which results count, the journal's failures table across restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd import failmemory
from balancerd.errors import StateError
from balancerd.journal import Journal
from balancerd.model import FailureRecord, Move, MoveKind, MoveResult, Outcome


def mv(vm: str = "web1", dest: str = "h2") -> Move:
    return Move(vm=vm, source="h1", dest=dest, kind=MoveKind.LIVE, reason="balance", gain=0.5, memory_mib=2048)


def ended(outcome: Outcome, detail: str, at: float = 1000.0, move: Move | None = None) -> MoveResult:
    return MoveResult(move or mv(), outcome, at - 10, at, detail)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite", failure_backoff_s=300.0)
    yield opened
    opened.close()


def end(journal: Journal, result: MoveResult) -> None:
    record = journal.migration_started(1, result.move, result.started_at)
    journal.migration_ended(record, result)


@pytest.mark.parametrize(("base", "count", "expected"), [
    (300.0, 1, 300.0), (300.0, 2, 600.0), (300.0, 3, 1200.0), (300.0, 9, 76_800.0),
    (300.0, 10, 86_400.0), (300.0, 10_000, 86_400.0), (0.0, 5, 0.0), (60.0, 0, 0.0),
])
def test_backoff_doubles_per_failure_and_stops_at_a_day(base: float, count: int, expected: float) -> None:
    assert failmemory.backoff_s(base, count) == expected


@pytest.mark.parametrize(("outcome", "detail", "counts"), [
    (Outcome.FAILED, "migration failed: connection reset", True),
    (Outcome.FAILED, "start refused: destination refused the domain", True),
    (Outcome.ABORTED, "deadline of 600 s passed; aborted, VM stays on source", True),
    (Outcome.ABORTED, "aborted by someone else: job cancelled", True),
    (Outcome.ABORTED, "aborted: paused by uid 0 (pid 7); aborted, VM stays on source", False),
    (Outcome.FAILED, "aborted: paused by uid 0 and the migration did not stop within 30 s of aborting it", False),
    (Outcome.SKIPPED, "pre-flight failed: cpu: host CPU lacks avx512", True),
    (Outcome.SKIPPED, "pre-flight could not run: host h2 did not answer", False),
    (Outcome.SKIPPED, "plan older than plan_ttl_s (120 s)", False),
    (Outcome.SKIPPED, "destination h2 entered maintenance", False),
    (Outcome.SKIPPED, "web1 is on h3, not only on h1", False),
    (Outcome.SKIPPED, "paused by the pause file /run/balancerd/pause", False),
    (Outcome.SKIPPED, "superseded by a newer plan before it started", False),
    (Outcome.SKIPPED, "daemon stopping", False),
    (Outcome.SUCCEEDED, "", False),
])
def test_which_results_count(outcome: Outcome, detail: str, counts: bool) -> None:
    assert failmemory.counts_as_failure(ended(outcome, detail)) is counts


def test_the_operator_abort_prefix_is_what_pause_abort_running_journals() -> None:
    assert failmemory.counts_as_failure(ended(Outcome.ABORTED, f"{failmemory.OPERATOR_ABORT}paused by uid 0")) is False


def test_failures_count_up_with_back_off_from_the_failure_time(journal: Journal) -> None:
    end(journal, ended(Outcome.FAILED, "migration failed: one", at=1000.0))
    assert journal.failures() == (FailureRecord("web1", "h2", 1, 1300.0, "migration failed: one"),)
    end(journal, ended(Outcome.SKIPPED, "pre-flight failed: networks: br9 missing", at=2000.0))
    assert journal.failures() == (FailureRecord("web1", "h2", 2, 2600.0, "pre-flight failed: networks: br9 missing"),)


def test_results_that_do_not_count_leave_the_memory_alone(journal: Journal) -> None:
    end(journal, ended(Outcome.SKIPPED, "destination h2 entered maintenance"))
    end(journal, ended(Outcome.ABORTED, "aborted: paused by uid 0; aborted, VM stays on source"))
    assert journal.failures() == ()


def test_a_success_clears_only_its_destination(journal: Journal) -> None:
    end(journal, ended(Outcome.FAILED, "migration failed: x", move=mv(dest="h2")))
    end(journal, ended(Outcome.FAILED, "migration failed: y", move=mv(dest="h3")))
    end(journal, ended(Outcome.SUCCEEDED, "", at=5000.0, move=mv(dest="h3")))
    assert [(r.vm, r.dest) for r in journal.failures()] == [("web1", "h2")]


def test_release_clears_every_row_of_the_vm_and_says_which(journal: Journal) -> None:
    journal.record_failure("web1", "h2", 10.0, "a")
    journal.record_failure("web1", "h3", 10.0, "b")
    journal.record_failure("db1", "h2", 10.0, "c")
    cleared = journal.release_failures("web1")
    assert [(r.vm, r.dest) for r in cleared] == [("web1", "h2"), ("web1", "h3")]
    assert [(r.vm, r.dest) for r in journal.failures()] == [("db1", "h2")]
    assert journal.release_failures("web1") == ()


def test_the_back_off_follows_the_journals_setting(journal: Journal) -> None:
    journal.failure_backoff_s = 10.0
    journal.record_failure("web1", "h2", 100.0, "a")
    assert journal.record_failure("web1", "h2", 200.0, "b") == FailureRecord("web1", "h2", 2, 220.0, "b")


def test_records_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first = Journal(path)
    end(first, ended(Outcome.FAILED, "migration failed: reset", at=1000.0))
    first.close()
    second = Journal(path)
    try:
        assert second.failures() == (FailureRecord("web1", "h2", 1, 1300.0, "migration failed: reset"),)
    finally:
        second.close()


def test_a_journal_without_the_table_gains_it_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE failures")
    conn.commit()
    conn.close()
    reopened = Journal(path)
    try:
        reopened.record_failure("web1", "h2", 1.0, "x")
        assert len(reopened.failures()) == 1
    finally:
        reopened.close()


def test_a_failed_end_of_an_unknown_record_records_no_failure(journal: Journal) -> None:
    with pytest.raises(StateError, match="no open migration record"):
        journal.migration_ended(999, ended(Outcome.FAILED, "migration failed: x"))
    assert journal.failures() == ()


def test_release_answer_shape() -> None:
    record = FailureRecord("web1", "h2", 3, 99.0, "boom")
    assert failmemory.release_answer("web1", (record,), offline=True) == {
        "vm": "web1", "released": True, "offline": True,
        "cleared": [{"vm": "web1", "dest": "h2", "count": 3, "retry_at": 99.0, "last_error": "boom"}]}
