"""The shared maintenance set and pause on a real etcd: CAS edits that all land, the pause round trip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from balancerd.errors import CoordinationError
from balancerd.ha.etcd import Etcd, KeyValue, TxnResult
from balancerd.ha.shared import SharedState
from tests import etcdserver
from tests.unit.ha.conftest import ha_config


class InterleavingEtcd(Etcd):
    """Runs ``between`` once, right after its first read of ``key``; records every transaction's outcome."""

    def __init__(self, url: str, key: str, between: Callable[[], object]) -> None:
        super().__init__(ha_config(url))
        self._key = key
        self._between: Callable[[], object] | None = between
        self.txns: list[bool] = []

    def value(self, key: str) -> KeyValue | None:
        found = super().value(key)
        if key == self._key and self._between is not None:
            between, self._between = self._between, None
            between()
        return found

    def txn(self, compare: Any, success: Any, failure: Any = ()) -> TxnResult:
        result = super().txn(compare, success, failure)
        self.txns.append(result.succeeded)
        return result


def test_no_set_before_any_write(client: Etcd, prefix: str) -> None:
    shared = SharedState(client, prefix)
    assert shared.maintenance_key == prefix + "maintenance" and shared.pause_key == prefix + "pause"
    assert shared.maintenance() is None
    assert shared.edit_maintenance([], ["h1"]) == ()  # nothing to change: nothing written
    assert shared.maintenance() is None


def test_edits_add_in_order_force_in_place_and_remove(client: Etcd, prefix: str) -> None:
    shared = SharedState(client, prefix)
    assert shared.edit_maintenance([("h2", False), ("h1", False)], []) == (("h2", False), ("h1", False))
    assert shared.edit_maintenance([("h3", True)], []) == (("h2", False), ("h1", False), ("h3", True))
    assert shared.edit_maintenance([("h1", True), ("h2", False)], []) == (("h2", False), ("h1", True), ("h3", True))
    revision = client.value(shared.maintenance_key)
    assert shared.edit_maintenance([("h1", False)], []) == (("h2", False), ("h1", True), ("h3", True))
    assert client.value(shared.maintenance_key) == revision  # unforcing by an add changes nothing, writes nothing
    assert shared.edit_maintenance([], ["h2", "nope"]) == (("h1", True), ("h3", True))
    assert shared.edit_maintenance([("h2", False)], ["h3"]) == (("h1", True), ("h2", False))
    assert SharedState(client, prefix).maintenance() == (("h1", True), ("h2", False))
    assert shared.edit_maintenance([], ["h1", "h2"]) == ()
    assert shared.maintenance() == ()  # an emptied set is a set: not None


def test_two_heads_editing_at_once_both_land(etcd_server: etcdserver.EtcdServer, prefix: str) -> None:
    other = SharedState(Etcd(ha_config(etcd_server.url)), prefix)
    other.edit_maintenance([("h0", False)], [])
    client = InterleavingEtcd(etcd_server.url, prefix + "maintenance",
                              lambda: other.edit_maintenance([("h2", False)], ["h0"]))
    first = SharedState(client, prefix)
    assert first.edit_maintenance([("h1", True)], []) == (("h2", False), ("h1", True))
    assert client.txns == [False, True]  # its first CAS lost to the other head's write, the retry landed
    assert other.maintenance() == (("h2", False), ("h1", True))


def test_an_edit_that_keeps_losing_gives_up_with_a_coordination_error(etcd_server: etcdserver.EtcdServer,
                                                                       prefix: str) -> None:
    writer = Etcd(ha_config(etcd_server.url))
    counter = iter(range(1000))

    class Contended(Etcd):
        def value(self, key: str) -> KeyValue | None:
            found = super().value(key)
            writer.write(key, f'[{{"host": "x{next(counter)}"}}]'.encode())
            return found

    with pytest.raises(CoordinationError, match="changed 10 times"):
        SharedState(Contended(ha_config(etcd_server.url)), prefix).edit_maintenance([("h1", False)], [])


def test_an_unreadable_set_is_a_coordination_error_with_the_fix(client: Etcd, prefix: str) -> None:
    shared = SharedState(client, prefix)
    for raw in (b"not json", b'[{"name": "h1"}]', b"3"):
        client.write(shared.maintenance_key, raw)
        with pytest.raises(CoordinationError, match=r"not readable .*etcdctl del .*maintenance file seeds it"):
            shared.maintenance()
        with pytest.raises(CoordinationError, match="not readable"):
            shared.edit_maintenance([("h1", False)], [])


def test_pause_set_read_and_clear(client: Etcd, prefix: str) -> None:
    shared = SharedState(client, prefix)
    assert shared.pause() is None
    shared.set_pause({"by": "ops via api", "at": 1234.5, "abort_running": True})
    assert SharedState(client, prefix).pause() == {"by": "ops via api", "at": 1234.5, "abort_running": True}
    shared.set_pause({"by": "someone else", "at": 2.0, "abort_running": False})
    assert shared.pause() == {"by": "someone else", "at": 2.0, "abort_running": False}
    shared.set_pause(None)
    assert shared.pause() is None
    assert client.value(shared.pause_key) is None
    shared.set_pause(None)  # clearing no pause is fine


def test_an_unreadable_pause_still_pauses(client: Etcd, prefix: str) -> None:
    shared = SharedState(client, prefix)
    client.write(shared.pause_key, b"{broken")
    pause = shared.pause()
    assert pause is not None and pause["by"] == f"an unreadable pause key in etcd ({shared.pause_key})"
