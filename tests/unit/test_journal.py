"""Tests of the SQLite journal and of reconciliation after a restart."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.backends.base import Check
from balancerd.errors import StateError
from balancerd.journal import SCHEMA_VERSION, Journal, JournalEntry
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
                                    "reason": "balance", "gain": 0.5, "memory_mib": 2048, "purpose": "balance"}
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


def test_checks_are_recorded_per_migration_in_order(journal: Journal) -> None:
    first = journal.migration_started(1, mv(), 10.0)
    second = journal.migration_started(1, mv("db1"), 11.0)
    checks = (Check("capacity", True, "4096 MiB free"), Check("networks", False, "h2 lacks site-h1"))
    journal.record_checks(first, checks)
    journal.record_checks(second, checks[:1])
    assert journal.checks(first) == checks
    assert journal.checks(second) == checks[:1]
    assert journal.checks(999) == ()


def test_a_recorded_plan_reads_back_with_its_mode(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    plan = Plan(3, 1_700_000_000.0, (Move("vm1", "h1", "h2", MoveKind.LIVE, "balance", 0.25, 2048),), 1.0, 0.5,
                "balance")
    ident = journal.record_plan(plan, "recommend")
    recorded = journal.recorded_plan(ident)
    assert recorded is not None and recorded.mode == "recommend" and recorded.plan == plan
    assert journal.recorded_plan(ident + 1) is None
    journal.close()


def test_actions_are_kept_newest_first(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record_action(1.0, "uid 0", "pause", "abort_running=False")
    journal.record_action(2.0, "uid 0 (pid 9)", "resume", "")
    assert [(a.action, a.caller) for a in journal.actions()] == [("resume", "uid 0 (pid 9)"), ("pause", "uid 0")]
    journal.close()
