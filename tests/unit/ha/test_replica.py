"""The journal's records through etcd: one head writes its moves and operations, the other copies them in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.ha.etcd import Etcd
from balancerd.ha.leader import Leadership
from balancerd.ha.recorder import HaRecorder
from balancerd.ha.replica import KEEP_S, Replica
from balancerd.journal import Journal
from balancerd.model import Move, MoveKind, MoveResult, Outcome
from tests import etcdserver
from tests.unit.ha.conftest import ha_config

NOW = 1_000_000.0


def key_of(client: Etcd, prefix: str, record: int) -> str:
    """The etcd key of the start of journal row ``record`` of head a (``<ns>-<row>``)."""
    (key,) = [kv.key for kv in client.range(prefix + "events/a/", prefix=True) if kv.key.endswith(f"-{record}")]
    return key


def mv(vm: str = "web1", source: str = "h1", dest: str = "h2", reason: str = "balance") -> Move:
    return Move(vm, source, dest, MoveKind.LIVE, reason, 0.5, 2048)


def ended(move: Move, outcome: Outcome, at: float, detail: str = "") -> MoveResult:
    return MoveResult(move, outcome, at - 10, at, detail, downtime_ms=30, bytes_transferred=99)


class Head:
    """One head: its journal, leadership, replica and recorder."""

    def __init__(self, client: Etcd, prefix: str, name: str, directory: Path) -> None:
        self.journal = Journal(directory / f"{name}.sqlite")
        self.leadership = Leadership(client, name, prefix + "leader", 10)
        self.replica = Replica(client, prefix, name, self.journal)
        self.recorder = HaRecorder(self.journal, self.leadership, self.replica)

    def lead(self, plan_id: int = 1) -> int:
        self.leadership.step()
        role = self.leadership.role()
        assert role.leader
        self.recorder.planned(plan_id, role.term)
        return role.term

    def move(self, move: Move, outcome: Outcome, at: float, detail: str = "", plan_id: int = 1) -> int:
        record = self.recorder.migration_started(plan_id, move, at - 10)
        self.recorder.migration_ended(record, ended(move, outcome, at, detail))
        return record


@pytest.fixture
def heads(client: Etcd, prefix: str, tmp_path: Path) -> Iterator[tuple[Head, Head]]:
    a, b = Head(client, prefix, "a", tmp_path), Head(client, prefix, "b", tmp_path)
    yield a, b
    a.journal.close()
    b.journal.close()


def test_the_other_heads_start_and_end_are_copied_with_term_and_head(heads: tuple[Head, Head], client: Etcd,
                                                                     prefix: str) -> None:
    a, b = heads
    term = a.lead()
    record = a.recorder.migration_started(1, mv(), NOW - 10)
    key = key_of(client, prefix, record)
    stored = client.value(key)
    assert stored is not None
    assert json.loads(stored.value)["kind"] == "started" and json.loads(stored.value)["term"] == term
    assert b.replica.copy_in(NOW) == 1
    (open_row,) = b.journal.unfinished()
    assert (open_row.vm, open_row.term, open_row.head, open_row.plan_id) == ("web1", term, "a", 0)
    a.recorder.migration_ended(record, ended(mv(), Outcome.SUCCEEDED, NOW, "done"))
    assert client.value(key + ".end") is not None
    assert b.replica.copy_in(NOW) == 1
    (row,) = b.journal.migrations()
    assert row.id == open_row.id
    assert (row.started_at, row.finished_at, row.outcome, row.detail) == (NOW - 10, NOW, Outcome.SUCCEEDED, "done")
    assert (row.term, row.head, row.source, row.dest) == (term, "a", "h1", "h2")
    assert b.journal.unfinished() == ()
    assert b.journal.copied() == {key: row.id, key + ".end": row.id}


def test_start_and_end_in_one_copy_and_a_second_copy_copies_nothing(heads: tuple[Head, Head]) -> None:
    a, b = heads
    term = a.lead()
    a.move(mv(), Outcome.SUCCEEDED, NOW, "ok")
    assert b.replica.copy_in(NOW) == 2
    assert b.replica.copy_in(NOW) == 0
    (row,) = b.journal.migrations()
    assert (row.term, row.head, row.outcome, row.finished_at) == (term, "a", Outcome.SUCCEEDED, NOW)
    assert b.journal.moves_of("web1", NOW - 100) == 1  # the daily cap counts the other head's move
    assert a.replica.copy_in(NOW) == 0  # a head never copies its own records
    assert len(a.journal.migrations()) == 1


def test_a_failed_end_settles_the_failure_memory_and_a_release_clears_it(heads: tuple[Head, Head]) -> None:
    a, b = heads
    a.lead()
    a.move(mv("db1", dest="h3"), Outcome.FAILED, NOW, "job failed")
    b.replica.copy_in(NOW)
    (failure,) = b.journal.failures()
    assert (failure.vm, failure.dest, failure.count, failure.last_error) == ("db1", "h3", 1, "job failed")
    assert failure.retry_at > NOW
    a.journal.release_failures("db1")
    a.replica.operation("release", NOW + 1, 1, vm="db1")
    assert b.replica.copy_in(NOW + 1) == 1
    assert b.journal.failures() == ()


def test_a_restore_asked_on_one_head_is_open_on_the_other(heads: tuple[Head, Head]) -> None:
    a, b = heads
    a.lead()
    a.move(mv("web1", "h1", "h2", reason="drain: h1 in maintenance"), Outcome.SUCCEEDED, NOW)
    a.replica.operation("restore", NOW + 5, 7, host="h1")
    assert b.replica.copy_in(NOW + 5) == 3
    (restore,) = b.journal.restores()
    assert (restore.host, restore.vms) == ("h1", (("web1", "h2"),))


def test_records_older_than_keep_s_are_pruned_by_the_leaders_copy(heads: tuple[Head, Head], client: Etcd,
                                                                 prefix: str) -> None:
    a, b = heads
    a.lead()
    old = a.move(mv("old"), Outcome.SUCCEEDED, NOW - 2 * 86_400 - 60)  # KEEP_S: two days
    new = a.move(mv("new"), Outcome.SUCCEEDED, NOW - 86_400 - 60)  # older than the daily cap's day: kept
    a.replica.operation("restore", NOW - KEEP_S - 1, 1, host="h9")
    assert b.replica.copy_in(NOW) == 5  # old records not copied yet are still copied before the prune
    assert b.journal.restores() == ()  # nothing was drained off h9: no restore is kept
    assert len(client.range(prefix + "events/", prefix=True)) == 5
    assert b.replica.copy_in(NOW, prune=True) == 0
    assert [kv.key for kv in client.range(prefix + "events/", prefix=True)] == [
        key_of(client, prefix, new), key_of(client, prefix, new) + ".end"]
    assert old < new
    assert {row.vm for row in b.journal.migrations()} == {"old", "new"}  # the journal keeps its rows
    assert b.replica.copy_in(NOW, prune=False) == 0


def test_an_unreadable_record_is_marked_and_not_copied_again(heads: tuple[Head, Head], client: Etcd,
                                                            prefix: str) -> None:
    _, b = heads
    client.write(prefix + "events/a/000000000001", b"{not json")
    client.write(prefix + "events/a/op-1", json.dumps({"kind": "teleport", "at": NOW}).encode())
    assert b.replica.copy_in(NOW) == 0
    assert b.journal.copied() == {prefix + "events/a/000000000001": 0, prefix + "events/a/op-1": 0}
    assert b.journal.migrations() == ()
    client.write(prefix + "events/a/op-1", json.dumps({"kind": "release", "at": NOW, "vm": "x"}).encode())
    assert b.replica.copy_in(NOW) == 0  # a key is copied once, even rewritten


def test_unreadable_records_are_pruned(heads: tuple[Head, Head], client: Etcd, prefix: str) -> None:
    _, b = heads
    client.write(prefix + "events/a/000000000001", b"{not json")
    client.write(prefix + "events/a/000000000002", b"[1, 2]")
    client.write(prefix + "events/a/op-1", json.dumps({"kind": "teleport", "at": NOW}).encode())
    b.replica.copy_in(NOW, prune=True)
    assert [kv.key for kv in client.range(prefix + "events/", prefix=True)] == [prefix + "events/a/op-1"]


def test_an_end_etcd_did_not_take_stays_in_the_outbox_until_a_flush(private_etcd: etcdserver.EtcdServer,
                                                                   tmp_path: Path) -> None:
    client = Etcd(ha_config(private_etcd.url))
    a = Head(client, "/c/", "a", tmp_path)
    b = Head(client, "/c/", "b", tmp_path)
    try:
        a.lead()
        record = a.recorder.migration_started(1, mv(), NOW - 10)
        private_etcd.stop()
        a.recorder.migration_ended(record, ended(mv(), Outcome.FAILED, NOW, "lost"))
        assert a.journal.migrations()[0].outcome is Outcome.FAILED  # the local row does not wait for etcd
        a.replica.operation("release", NOW + 1, 1, vm="web1")
        assert len(a.replica._outbox) == 2
        private_etcd.restart()
        assert client.value(key_of(client, "/c/", record) + ".end") is None
        a.replica.flush()
        assert a.replica._outbox == []
        stored = client.value(key_of(client, "/c/", record) + ".end")
        assert stored is not None and json.loads(stored.value)["outcome"] == "failed"
        released = client.range("/c/events/a/op-", prefix=True)
        assert [json.loads(kv.value)["kind"] for kv in released] == ["release"]
        assert stored.mod_revision < released[0].mod_revision  # oldest first
        assert b.replica.copy_in(NOW + 1) == 3
        assert b.journal.migrations()[0].outcome is Outcome.FAILED
        assert b.journal.failures() == ()  # the release came after the failure
    finally:
        a.journal.close()
        b.journal.close()


def test_row_ids_that_start_over_get_keys_of_their_own(heads: tuple[Head, Head], client: Etcd, prefix: str) -> None:
    a, b = heads
    a.lead()
    first = a.recorder.migration_started(1, mv("web1"), NOW - 10)
    a.journal.close()
    Path(a.journal.path).unlink()  # `balancerd journal recover`: a new journal, row ids from 1 again
    a.journal = Journal(a.journal.path)
    a.replica = Replica(client, prefix, "a", a.journal)  # and a new process
    a.recorder = HaRecorder(a.journal, a.leadership, a.replica)
    a.recorder.planned(1, a.leadership.role().term)
    again = a.recorder.migration_started(1, mv("web2"), NOW - 5)
    assert first == again == 1
    starts = [kv.key for kv in client.range(prefix + "events/a/", prefix=True)]
    assert len(starts) == 2 and len(set(starts)) == 2
    assert b.replica.copy_in(NOW) == 2
    assert sorted(e.vm for e in b.journal.unfinished()) == ["web1", "web2"]


def test_after_etcd_is_rebuilt_a_follower_copies_the_new_records(private_etcd: etcdserver.EtcdServer,
                                                                 tmp_path: Path) -> None:
    client = Etcd(ha_config(private_etcd.url))
    a, b = Head(client, "/r/", "a", tmp_path), Head(client, "/r/", "b", tmp_path)
    try:
        a.lead()
        for n in range(5):
            a.replica.operation("release", NOW, n, vm=f"vm{n}")
        assert b.replica.copy_in(NOW) == 5
        assert len(b.journal.copied()) == 5
        private_etcd.stop()
        shutil.rmtree(private_etcd.data_dir)
        private_etcd.launch()  # revisions start over
        a.leadership = Leadership(client, "a", "/r/leader", 10)
        a.recorder = HaRecorder(a.journal, a.leadership, a.replica)
        a.lead()
        a.move(mv("late"), Outcome.SUCCEEDED, NOW)
        assert b.replica.copy_in(NOW) == 2
        assert [e.vm for e in b.journal.migrations()] == ["late"]
    finally:
        a.journal.close()
        b.journal.close()
