"""HaRecorder: a move's start is recorded locally and written to etcd only under the leader's fence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.errors import FencedError
from balancerd.ha.etcd import Etcd
from balancerd.model import Move, MoveKind, MoveResult, Outcome
from tests.unit.ha.test_replica import Head, key_of


def mv(vm: str = "web1") -> Move:
    return Move(vm, "h1", "h2", MoveKind.LIVE, "balance", 0.5, 2048)


@pytest.fixture
def heads(client: Etcd, prefix: str, tmp_path: Path) -> Iterator[tuple[Head, Head]]:
    a, b = Head(client, prefix, "a", tmp_path), Head(client, prefix, "b", tmp_path)
    a.leadership.step()
    b.leadership.step()
    assert a.leadership.role().leader and not b.leadership.role().leader
    yield a, b
    a.journal.close()
    b.journal.close()


def events(client: Etcd, prefix: str) -> list[str]:
    return [kv.key for kv in client.range(prefix + "events/", prefix=True)]


def test_the_leaders_start_has_its_term_locally_and_in_etcd(heads: tuple[Head, Head], client: Etcd,
                                                           prefix: str) -> None:
    a, _ = heads
    term = a.leadership.role().term
    a.recorder.planned(4, term)
    assert a.recorder.term_of(4) == term and a.recorder.term_of(5) == 0
    record = a.recorder.migration_started(4, mv(), 100.0)
    (row,) = a.journal.unfinished()
    assert (row.id, row.plan_id, row.term, row.head, row.started_at) == (record, 4, term, "a", 100.0)
    assert events(client, prefix) == [key_of(client, prefix, record)]
    a.recorder.migration_ended(record, MoveResult(mv(), Outcome.SUCCEEDED, 100.0, 130.0, "ok"))
    assert a.journal.migrations()[0].outcome is Outcome.SUCCEEDED
    assert events(client, prefix) == [key_of(client, prefix, record), key_of(client, prefix, record) + ".end"]


def test_a_followers_start_is_fenced_closed_as_skipped_locally_and_absent_from_etcd(
        heads: tuple[Head, Head], client: Etcd, prefix: str) -> None:
    a, b = heads
    term = a.leadership.role().term
    b.recorder.planned(1, term)  # even the leader's term does not make a follower's start pass
    with pytest.raises(FencedError, match="not started: this head is follower of a") as info:
        b.recorder.migration_started(1, mv(), 100.0)
    (row,) = b.journal.migrations()
    assert (row.outcome, row.finished_at, row.detail) == (Outcome.SKIPPED, 100.0, str(info.value))
    assert (row.term, row.head) == (term, "b")
    assert b.journal.unfinished() == ()
    assert b.journal.failures() == ()  # a fenced start is no failure of the move
    assert events(client, prefix) == []


def test_a_plan_of_an_earlier_term_is_fenced_on_the_leader_too(heads: tuple[Head, Head], client: Etcd,
                                                              prefix: str) -> None:
    a, _ = heads
    term = a.leadership.role().term
    a.recorder.planned(1, term - 1)
    with pytest.raises(FencedError, match=f"planned in term {term - 1}"):
        a.recorder.migration_started(1, mv(), 100.0)
    assert [row.outcome for row in a.journal.migrations()] == [Outcome.SKIPPED]
    assert events(client, prefix) == []
    assert a.leadership.role().leader  # refused before asking etcd: the head still leads


def test_a_leader_whose_term_ended_skips_and_steps_down(heads: tuple[Head, Head], client: Etcd,
                                                        prefix: str) -> None:
    a, b = heads
    old = a.leadership.role()
    a.recorder.planned(1, old.term)
    client.revoke(old.lease)
    b.leadership.step()
    with pytest.raises(FencedError, match=f"term {old.term} ended"):
        a.recorder.migration_started(1, mv(), 100.0)
    assert a.journal.migrations()[0].outcome is Outcome.SKIPPED
    assert not a.leadership.role().leader
    assert events(client, prefix) == []


def test_record_skip_is_local_only(heads: tuple[Head, Head], client: Etcd, prefix: str) -> None:
    a, _ = heads
    a.recorder.planned(1, a.leadership.role().term)
    a.recorder.record_skip(1, mv(), MoveResult(mv(), Outcome.SKIPPED, 100.0, 100.0, "pre-flight failed: no room"))
    (row,) = a.journal.migrations()
    assert (row.outcome, row.detail, row.term, row.head) == (Outcome.SKIPPED, "pre-flight failed: no room", None,
                                                             None)
    assert [f.vm for f in a.journal.failures()] == ["web1"]  # a refused pre-flight counts as a failure
    assert events(client, prefix) == []


def test_only_the_latest_plans_terms_are_kept(heads: tuple[Head, Head]) -> None:
    a, _ = heads
    for plan_id in range(1, 201):
        a.recorder.planned(plan_id, 5)
    assert a.recorder.term_of(200) == 5 and a.recorder.term_of(137) == 5
    assert a.recorder.term_of(1) == 0  # forgotten: a start of plan 1 now is fenced on term 0 and refused
