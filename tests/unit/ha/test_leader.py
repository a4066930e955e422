"""Leadership on a real etcd: one leader per key, its term, fencing, takeover, step-down on the local clock."""

from __future__ import annotations

import time

import pytest

from balancerd.errors import CoordinationError, FencedError
from balancerd.ha import etcd
from balancerd.ha.etcd import Etcd
from balancerd.ha.leader import MARGIN_S, Leadership, Role
from tests import etcdserver
from tests.unit.ha.conftest import ha_config

TTL_S = 3


class Clock:
    """A monotonic clock that moves only when the test says."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingEtcd(Etcd):
    """An Etcd that counts its calls (to show that role() asks nothing)."""

    calls = 0

    def call(self, path: str, body: dict[str, object]) -> dict[str, object]:
        self.calls += 1
        return super().call(path, body)


def pair(client: Etcd, key: str, clock: Clock | None = None) -> tuple[Leadership, Leadership]:
    mono = clock or Clock()
    return (Leadership(client, "a", key, TTL_S, monotonic=mono), Leadership(client, "b", key, TTL_S, monotonic=mono))


def test_exactly_one_leader_and_its_term_is_the_keys_create_revision(client: Etcd, prefix: str) -> None:
    a, b = pair(client, prefix + "leader")
    a.step()
    b.step()
    ra, rb = a.role(), b.role()
    assert ra.leader and not rb.leader
    held = client.value(prefix + "leader")
    assert held is not None
    assert (held.value, held.lease) == (b"a", ra.lease)
    assert ra.term == held.create_revision == rb.term
    assert (ra.holder, rb.holder) == ("a", "a")
    assert rb.lease and rb.lease != ra.lease
    assert ra.describe() == f"leader of term {ra.term}"
    assert rb.describe() == f"follower of a (term {ra.term})"
    a.step()  # the leader campaigning again keeps its term
    b.step()
    assert a.role() == ra and b.role() == rb


def test_before_any_step_a_head_is_a_follower_that_knows_no_leader(client: Etcd, prefix: str) -> None:
    a, _ = pair(client, prefix + "leader")
    role = a.role()
    assert not role.leader and role.term == 0
    assert role.describe() == "follower (no leader known): not campaigned yet"


def test_fenced_runs_ops_for_the_leader_of_the_term_only(client: Etcd, prefix: str) -> None:
    a, b = pair(client, prefix + "leader")
    a.step()
    b.step()
    term = a.role().term
    a.fenced(term, [etcd.put(prefix + "started", b"1")])
    started = client.value(prefix + "started")
    assert started is not None and started.value == b"1"
    with pytest.raises(FencedError, match=f"follower of a .*planned in term {term}"):
        b.fenced(term, [etcd.put(prefix + "by-b", b"1")])
    with pytest.raises(FencedError, match=f"leader of term {term}, the move was planned in term {term - 1}"):
        a.fenced(term - 1, [etcd.put(prefix + "old-term", b"1")])
    assert client.value(prefix + "by-b") is None and client.value(prefix + "old-term") is None
    assert a.role().leader  # refusals made without asking etcd change nothing


def test_revoked_lease_the_other_takes_over_with_a_higher_term_and_the_old_leader_is_fenced(
        client: Etcd, prefix: str) -> None:
    changes: list[tuple[Role, Role]] = []
    clock = Clock()
    a = Leadership(client, "a", prefix + "leader", TTL_S, monotonic=clock,
                   on_change=lambda before, after: changes.append((before, after)))
    b = Leadership(client, "b", prefix + "leader", TTL_S, monotonic=clock)
    a.step()
    b.step()
    old = a.role()
    assert old.leader
    client.revoke(old.lease)
    assert client.value(prefix + "leader") is None
    b.step()
    new = b.role()
    assert new.leader and new.term > old.term and new.holder == "b"
    assert a.role().leader  # a has not noticed yet: only its fence and its next round tell it
    with pytest.raises(FencedError, match=f"term {old.term} ended"):
        a.fenced(old.term, [etcd.put(prefix + "late", b"1")])
    assert client.value(prefix + "late") is None
    assert not a.role().leader
    a.step()
    assert a.role() == Role(False, new.term, "b", old.lease)
    assert [after.leader for _, after in changes] == [True, False, False]


def test_a_leader_not_refreshed_in_time_steps_down_on_its_own_clock_without_asking_etcd(
        etcd_server: etcdserver.EtcdServer, prefix: str) -> None:
    client = CountingEtcd(ha_config(etcd_server.url))
    clock = Clock()
    a = Leadership(client, "a", prefix + "leader", TTL_S, monotonic=clock)
    a.step()
    assert a.role().leader
    calls = client.calls
    clock.advance(TTL_S - MARGIN_S - 0.01)
    assert a.role().leader
    clock.advance(0.01)
    role = a.role()
    assert not role.leader and role.error == "lease not refreshed in time"
    assert clock.now - 1000.0 <= TTL_S - 0.5  # well before etcd could let the lease expire
    assert client.calls == calls
    with pytest.raises(FencedError, match="lease not refreshed in time"):
        a.fenced(role.term, [etcd.put(prefix + "x", b"1")])
    assert client.calls == calls
    a.step()  # the refresh is due: the lease is still alive in etcd, so the head leads its term again
    again = a.role()
    assert again.leader and again.term == role.term and again.lease == role.lease


def test_refresh_is_sent_a_third_of_the_ttl_after_the_last(etcd_server: etcdserver.EtcdServer, prefix: str) -> None:
    client = CountingEtcd(ha_config(etcd_server.url))
    clock = Clock()
    a = Leadership(client, "a", prefix + "leader", TTL_S, monotonic=clock)
    assert a.poll_s == 1.0
    a.step()  # grant + campaign
    assert client.calls == 2
    clock.advance(TTL_S / 3 - 0.01)
    a.step()  # campaign only
    assert client.calls == 3
    clock.advance(0.01)
    a.step()  # keepalive + campaign: valid a full TTL - margin from here
    assert client.calls == 5
    clock.advance(TTL_S - MARGIN_S - 0.01)
    assert a.role().leader


def test_an_expired_lease_makes_the_leader_a_follower_and_it_campaigns_with_a_new_one(
        client: Etcd, prefix: str) -> None:
    clock = Clock()
    a = Leadership(client, "a", prefix + "leader", TTL_S, monotonic=clock)
    a.step()
    first = a.role()
    client.revoke(first.lease)  # what etcd does when the lease expires
    clock.advance(TTL_S / 3)
    a.step()
    assert a.role() == Role(error="lease expired")
    a.step()
    second = a.role()
    assert second.leader and second.lease != first.lease and second.term > first.term


def test_a_leader_whose_lease_was_revoked_with_no_successor_gets_a_new_lease_and_leads_again(
        client: Etcd, prefix: str) -> None:
    a = Leadership(client, "a", prefix + "leader", TTL_S)
    a.step()
    first = a.role()
    client.revoke(first.lease)  # the key goes with it; nobody else campaigns
    a.step()  # the campaign's put names the dead lease
    assert a.role() == Role(error="lease expired")
    a.step()
    assert a.role().leader and a.role().lease != first.lease and a.role().term > first.term


def test_stop_revokes_the_leaders_lease_and_the_other_takes_over_on_its_next_step(client: Etcd, prefix: str) -> None:
    a, b = pair(client, prefix + "leader")
    a.step()
    b.step()
    lease = a.role().lease
    a.stop()
    assert a.role() == Role(error="stopped")
    assert client.keepalive(lease) == -1
    assert client.value(prefix + "leader") is None
    b.step()
    assert b.role().leader and b.role().holder == "b"


def test_the_thread_campaigns_and_stop_ends_it(client: Etcd, prefix: str) -> None:
    a = Leadership(client, "a", prefix + "leader", TTL_S)
    a.start()
    try:
        deadline = time.monotonic() + 5.0
        while not a.role().leader and time.monotonic() < deadline:
            time.sleep(0.01)
        assert a.role().leader
    finally:
        a.stop()
    assert a._thread is not None and not a._thread.is_alive()
    assert client.value(prefix + "leader") is None


def test_etcd_stopped_step_raises_and_the_leader_steps_down_at_its_deadline(
        private_etcd: etcdserver.EtcdServer) -> None:
    client = Etcd(ha_config(private_etcd.url))
    clock = Clock()
    a = Leadership(client, "a", "/leader", TTL_S, monotonic=clock)
    a.step()
    term = a.role().term
    private_etcd.stop()
    with pytest.raises(CoordinationError, match="etcd unreachable"):
        a.step()
    clock.advance(TTL_S / 3)
    with pytest.raises(CoordinationError, match="etcd unreachable"):
        a.step()  # the keepalive does not reach etcd either
    assert a.role().leader  # within the lease it last refreshed, it still leads
    with pytest.raises(FencedError, match="the fence could not be checked"):
        a.fenced(term, [etcd.put("/x", b"1")])
    clock.advance(TTL_S - MARGIN_S - TTL_S / 3)
    assert a.role() == Role(False, term, "", a.role().lease, "lease not refreshed in time")
    a._failed("etcd unreachable: x")  # what the thread does with the step's error
    assert not a.role().leader and a.role().error == "etcd unreachable: x"
