"""Tests of the SQLite journal and of reconciliation after a restart."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.errors import StateError, TransientBackendError
from balancerd.journal import SCHEMA_VERSION, Journal, JournalEntry, reconcile
from balancerd.model import Move, MoveKind, MoveResult, Outcome, Plan, Skip


def mv(vm: str = "web1", source: str = "h1", dest: str = "h2") -> Move:
    return Move(vm=vm, source=source, dest=dest, kind=MoveKind.LIVE, reason="balance", gain=0.5, memory_mib=2048)


def ended(move: Move, outcome: Outcome, at: float, detail: str = "") -> MoveResult:
    return MoveResult(move, outcome, at - 10, at, detail, downtime_ms=30, bytes_transferred=99)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "state" / "journal.sqlite")
    yield opened
    opened.close()


def test_creates_parent_dir_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_record_plan_stores_moves_as_json(journal: Journal) -> None:
    plan = Plan(3, 100.0, (mv(), mv("db1", "h3", "h1")), 0.9, 0.4, skipped=(Skip("big", ("too large",)),))
    first = journal.record_plan(plan, "enforce")
    second = journal.record_plan(Plan(4, 200.0, (), 0.4, 0.4), "recommend")
    assert second == first + 1
    conn = sqlite3.connect(journal.path)
    mode, moves, skipped = conn.execute("SELECT mode, moves, skipped FROM plans WHERE id=?", (first,)).fetchone()
    conn.close()
    assert mode == "enforce"
    assert [m["vm"] for m in json.loads(moves)] == ["web1", "db1"]
    assert json.loads(moves)[0] == {"vm": "web1", "source": "h1", "dest": "h2", "kind": "live",
                                    "reason": "balance", "gain": 0.5, "memory_mib": 2048}
    assert json.loads(skipped) == [{"vm": "big", "reasons": ["too large"]}]


def test_started_then_ended(journal: Journal) -> None:
    record = journal.migration_started(1, mv(), 100.0)
    assert journal.unfinished() == (JournalEntry(record, 1, "web1", "h1", "h2", MoveKind.LIVE, 100.0, None, None, ""),)
    journal.migration_ended(record, ended(mv(), Outcome.SUCCEEDED, 130.0, "ok"))
    assert journal.unfinished() == ()
    (entry,) = journal.migrations()
    assert (entry.finished_at, entry.outcome, entry.detail) == (130.0, Outcome.SUCCEEDED, "ok")


def test_ending_twice_or_an_unknown_record_is_refused(journal: Journal) -> None:
    record = journal.migration_started(1, mv(), 100.0)
    journal.migration_ended(record, ended(mv(), Outcome.FAILED, 110.0))
    with pytest.raises(StateError, match="no open migration record"):
        journal.migration_ended(record, ended(mv(), Outcome.SUCCEEDED, 120.0))
    with pytest.raises(StateError):
        journal.close_unfinished(999, Outcome.FAILED, "x", 1.0)


def test_recent_moves_since_excludes_skips_and_open_rows(journal: Journal) -> None:
    for vm, outcome, at in [("old", Outcome.SUCCEEDED, 50.0), ("new", Outcome.SUCCEEDED, 150.0),
                            ("skip", Outcome.SKIPPED, 160.0), ("bad", Outcome.FAILED, 170.0)]:
        journal.migration_ended(journal.migration_started(1, mv(vm), at - 10), ended(mv(vm), outcome, at))
    journal.migration_started(1, mv("open"), 180.0)
    assert [e.vm for e in journal.recent_moves(100.0)] == ["new", "bad"]


def test_migrations_are_newest_first_and_limited(journal: Journal) -> None:
    for i in range(5):
        journal.migration_started(1, mv(f"vm{i}"), float(i))
    assert [e.vm for e in journal.migrations(limit=3)] == ["vm4", "vm3", "vm2"]


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first = Journal(path)
    plan_id = first.record_plan(Plan(1, 1.0, (mv(),), 1.0, 0.5), "enforce")
    done = first.migration_started(plan_id, mv(), 10.0)
    first.migration_ended(done, ended(mv(), Outcome.SUCCEEDED, 20.0))
    open_id = first.migration_started(plan_id, mv("db1"), 30.0)
    first.close()
    second = Journal(path)
    assert [e.id for e in second.unfinished()] == [open_id]
    assert [e.vm for e in second.migrations()] == ["db1", "web1"]
    assert second.record_plan(Plan(2, 2.0, (), 0.5, 0.5), "recommend") == plan_id + 1
    second.close()


def test_unwritable_path_raises_state_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError, match=re.escape(str(blocker / "journal.sqlite"))):
        Journal(blocker / "journal.sqlite")


def test_file_that_is_not_a_database_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StateError, match=re.escape(str(path))):
        Journal(path)


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="schema version 99"):
        Journal(path)


def test_use_after_close_raises_state_error(tmp_path: Path) -> None:
    closed = Journal(tmp_path / "j.sqlite")
    closed.close()
    with pytest.raises(StateError):
        closed.migration_started(1, mv(), 1.0)


def test_concurrent_writers_get_distinct_ids(journal: Journal) -> None:
    ids: list[int] = []

    def write(n: int) -> None:
        for i in range(25):
            ids.append(journal.migration_started(n, mv(f"vm{n}-{i}"), float(i)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 100 == len(journal.unfinished())


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


def test_reconcile_with_nothing_open_says_nothing(journal: Journal) -> None:
    assert reconcile(journal, lambda vm: pytest.fail("must not locate"), 1.0) == ()
