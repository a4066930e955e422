"""The move-back record: drains recorded by their journalled end, restores opened, read, finished, cancelled,
and kept across a restart of the journal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.journal import Journal
from balancerd.model import Move, MoveKind, MoveResult, Outcome, Restore


def _end(journal: Journal, vm: str, source: str, dest: str, reason: str,
         outcome: Outcome = Outcome.SUCCEEDED) -> None:
    move = Move(vm=vm, source=source, dest=dest, kind=MoveKind.LIVE, reason=reason, gain=0.1, memory_mib=1024)
    record = journal.migration_started(1, move, 100.0)
    journal.migration_ended(record, MoveResult(move, outcome, 100.0, 110.0))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite")
    yield opened
    opened.close()


def test_succeeded_drains_are_recorded_and_a_restore_reads_them(journal: Journal, tmp_path: Path) -> None:
    _end(journal, "a", "h1", "h2", "drain: host h1 in maintenance; to h2 at 40% cpu")
    _end(journal, "b", "h1", "h3", "drain: host h1 in maintenance; to h3 at 30% cpu")
    _end(journal, "c", "h1", "h3", "drain: host h1 in maintenance; to h3 at 30% cpu", Outcome.FAILED)
    _end(journal, "d", "h1", "h2", "balance: h1 at 90% cpu -> h2 at 10% cpu")
    assert journal.restores() == ()
    assert journal.request_restore("h1", 200.0)
    assert not journal.request_restore("h9", 200.0)  # nothing drained off it: no request kept
    assert journal.restores() == (Restore("h1", (("a", "h2"), ("b", "h3"))),)
    journal.close()
    again = Journal(tmp_path / "journal.sqlite")  # a restart keeps both the record and the request
    try:
        assert again.restores() == (Restore("h1", (("a", "h2"), ("b", "h3"))),)
        _end(again, "a", "h2", "h1", "restore: back to h1 after its maintenance")
        assert again.restores() == (Restore("h1", (("a", "h2"), ("b", "h3"))),)  # a counts as back now
        again.finish_restore("h1")
        assert again.restores() == () and not again.request_restore("h1", 300.0)
    finally:
        again.close()


def test_a_host_back_in_maintenance_cancels_its_restore_but_keeps_its_record(journal: Journal) -> None:
    _end(journal, "a", "h1", "h2", "drain: host h1 in maintenance; to h2 at 40% cpu")
    journal.request_restore("h1", 200.0)
    journal.cancel_restore("h1")
    assert journal.restores() == ()
    assert journal.request_restore("h1", 300.0)
    assert journal.restores() == (Restore("h1", (("a", "h2"),)),)


def test_a_vm_drained_again_is_recorded_once_against_its_latest_host(journal: Journal) -> None:
    _end(journal, "a", "h1", "h2", "drain: host h1 in maintenance; to h2 at 40% cpu")
    _end(journal, "a", "h2", "h3", "drain: host h2 in maintenance; to h3 at 40% cpu")
    assert not journal.request_restore("h1", 200.0)
    assert journal.request_restore("h2", 200.0)
    assert journal.restores() == (Restore("h2", (("a", "h3"),)),)
