"""The etcd seam against a real etcd: key round trips, transactions, leases, failover between endpoints."""

from __future__ import annotations

import pytest

from balancerd.errors import CoordinationError
from balancerd.ha import etcd
from balancerd.ha.etcd import Etcd
from tests import etcdserver
from tests.unit.ha.conftest import ha_config

DEAD = "http://127.0.0.1:1"
"""A port nothing listens on: the connection is refused at once."""


def test_write_value_range_remove_round_trip(client: Etcd, prefix: str) -> None:
    assert client.value(prefix + "a") is None
    client.write(prefix + "b", b"two")
    client.write(prefix + "a", b"\x00one\xff")
    client.write(prefix + "ab", b"")
    found = client.value(prefix + "a")
    assert found is not None
    assert (found.key, found.value, found.lease) == (prefix + "a", b"\x00one\xff", 0)
    assert found.create_revision == found.mod_revision > 0
    assert [kv.key for kv in client.range(prefix, prefix=True)] == [prefix + "a", prefix + "ab", prefix + "b"]
    assert [kv.key for kv in client.range(prefix + "a", prefix=True)] == [prefix + "a", prefix + "ab"]
    empty = client.value(prefix + "ab")
    assert empty is not None and empty.value == b""  # etcd leaves an empty value out of its JSON
    client.write(prefix + "a", b"again")
    rewritten = client.value(prefix + "a")
    assert rewritten is not None
    assert rewritten.create_revision == found.create_revision < rewritten.mod_revision
    client.remove(prefix + "a")
    assert client.value(prefix + "a") is None
    assert [kv.key for kv in client.range(prefix, prefix=True)] == [prefix + "ab", prefix + "b"]


def test_txn_runs_success_or_failure_by_its_compares(client: Etcd, prefix: str) -> None:
    key = prefix + "k"
    created = client.txn([etcd.compare_created(key, 0)], [etcd.put(key, b"v1")], [etcd.get(key)])
    assert created.succeeded and created.ranges == ()
    kv = client.value(key)
    assert kv is not None and kv.create_revision == created.revision
    again = client.txn([etcd.compare_created(key, 0)], [etcd.put(key, b"v2")], [etcd.get(key)])
    assert not again.succeeded
    assert again.revision == created.revision  # nothing was written
    assert [(k.key, k.value) for k in again.ranges[0]] == [(key, b"v1")]
    assert client.txn([etcd.compare_modified(key, kv.mod_revision)], [etcd.put(key, b"v2")]).succeeded
    assert not client.txn([etcd.compare_modified(key, kv.mod_revision)], [etcd.put(key, b"v3")]).succeeded
    assert not client.txn([etcd.compare_created(key, kv.create_revision + 1)], [etcd.delete(key)]).succeeded
    assert client.txn([etcd.compare_created(key, kv.create_revision), etcd.compare_lease(key, 0)],
                      [etcd.delete(key)]).succeeded
    assert client.value(key) is None


def test_put_with_a_lease_and_revoke_deletes_the_attached_keys(client: Etcd, prefix: str) -> None:
    lease = client.grant(30)
    assert lease > 0
    assert client.txn([], [etcd.put(prefix + "held", b"x", lease)]).succeeded
    client.write(prefix + "kept", b"y")
    held = client.value(prefix + "held")
    assert held is not None and held.lease == lease
    assert client.txn([etcd.compare_lease(prefix + "held", lease)], []).succeeded
    assert 0 < client.keepalive(lease) <= 30
    client.revoke(lease)
    assert client.value(prefix + "held") is None
    assert client.value(prefix + "kept") is not None
    assert client.keepalive(lease) == -1
    client.revoke(lease)  # revoking again (not found) is not an error


def test_keepalive_of_an_unknown_lease_is_minus_one(client: Etcd) -> None:
    assert client.keepalive(0x7E57_0000_0001) == -1


def test_a_put_on_an_unknown_lease_is_refused_naming_the_endpoint(client: Etcd, prefix: str,
                                                                   etcd_server: etcdserver.EtcdServer) -> None:
    with pytest.raises(CoordinationError, match="lease not found") as info:
        client.txn([], [etcd.put(prefix + "k", b"x", 0x7E57_0000_0002)])
    assert etcd_server.url in str(info.value)


def test_a_dead_first_endpoint_is_passed_over_and_the_good_one_asked_first_after(
        etcd_server: etcdserver.EtcdServer, prefix: str) -> None:
    client = Etcd(ha_config(DEAD, etcd_server.url))
    assert client.endpoints == (DEAD, etcd_server.url)
    client.write(prefix + "k", b"v")
    found = client.value(prefix + "k")
    assert found is not None and found.value == b"v"
    assert client._first == 1  # the member that answered is asked first from now on


def test_every_endpoint_dead_names_them_all() -> None:
    other = "http://127.0.0.1:2"
    client = Etcd(ha_config(DEAD, other))
    with pytest.raises(CoordinationError) as info:
        client.range("/x")
    message = str(info.value)
    assert message.startswith("etcd unreachable: ")
    assert f"{DEAD}: ConnectionFailedError" in message and f"{other}: ConnectionFailedError" in message
    with pytest.raises(CoordinationError, match="unreachable"):
        client.grant(5)


def test_a_stopped_etcd_is_unreachable_and_answers_again_after_restart(
        private_etcd: etcdserver.EtcdServer) -> None:
    client = Etcd(ha_config(private_etcd.url))
    client.write("/k", b"v")
    private_etcd.stop()
    with pytest.raises(CoordinationError, match=f"etcd unreachable: {private_etcd.url}"):
        client.value("/k")
    private_etcd.restart()
    found = client.value("/k")
    assert found is not None and found.value == b"v"
