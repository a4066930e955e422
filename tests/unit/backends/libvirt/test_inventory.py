"""Tests of balancerd.backends.libvirt.inventory: its libvirt ABI constants, the dirty-rate kick and the
policy metadata read through a fake :class:`Calls` (the real one is exercised in test_libvirt.py and e2e)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import libvirt
import pytest

from balancerd.backends.libvirt import errors as errors
from balancerd.backends.libvirt import inventory as inv
from balancerd.clock import FakeClock
from balancerd.config import HostConfig
from balancerd.errors import PermanentBackendError

_T = TypeVar("_T")

CONSTANTS = {
    "STATS_STATE": "VIR_DOMAIN_STATS_STATE", "STATS_CPU_TOTAL": "VIR_DOMAIN_STATS_CPU_TOTAL",
    "STATS_BALLOON": "VIR_DOMAIN_STATS_BALLOON", "STATS_VCPU": "VIR_DOMAIN_STATS_VCPU",
    "STATS_INTERFACE": "VIR_DOMAIN_STATS_INTERFACE", "STATS_BLOCK": "VIR_DOMAIN_STATS_BLOCK",
    "STATS_DIRTYRATE": "VIR_DOMAIN_STATS_DIRTYRATE", "LIST_DOMAINS_PERSISTENT": "VIR_CONNECT_LIST_DOMAINS_PERSISTENT",
    "METADATA_ELEMENT": "VIR_DOMAIN_METADATA_ELEMENT", "JOB_NONE": "VIR_DOMAIN_JOB_NONE",
    "DOMAIN_RUNNING": "VIR_DOMAIN_RUNNING", "DOMAIN_BLOCKED": "VIR_DOMAIN_BLOCKED",
    "DOMAIN_PAUSED": "VIR_DOMAIN_PAUSED", "DOMAIN_SHUTOFF": "VIR_DOMAIN_SHUTOFF",
    "LIST_NETWORKS_ACTIVE": "VIR_CONNECT_LIST_NETWORKS_ACTIVE",
}


@pytest.mark.parametrize(("ours", "theirs"), sorted(CONSTANTS.items()))
def test_constants_match_the_bindings(ours: str, theirs: str) -> None:
    assert getattr(inv, ours) == getattr(libvirt, theirs)


class Fail(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"libvirt error {code}")
        self.code = code


class FakeCalls:
    """Calls whose ``tolerate`` behaves like the backend's, with :class:`Fail` standing for libvirtError."""

    def conn(self, host: str) -> Any:
        raise AssertionError("not used")

    def conns(self) -> Mapping[str, Any]:
        return {}

    def call(self, host: str, where: str, fn: Callable[[], _T]) -> _T:
        return fn()

    def tolerate(self, where: str, fn: Callable[[], _T],
                 codes: Collection[int] | None) -> tuple[_T | None, int | None]:
        try:
            return fn(), None
        except Fail as exc:
            if codes is None or exc.code in codes:
                return None, exc.code
            raise PermanentBackendError(f"{where}: {exc}") from exc


class Dom:
    def __init__(self, metadata: str | int, dirty: int | None = None) -> None:
        self._metadata = metadata
        self._dirty = dirty
        self.kicks = 0

    def UUIDString(self) -> str:
        return "u-1"

    def name(self) -> str:
        return "vm1"

    def metadata(self, kind: int, uri: str, flags: int) -> str:
        assert kind == inv.METADATA_ELEMENT
        if isinstance(self._metadata, int):
            raise Fail(self._metadata)
        return self._metadata

    def startDirtyRateCalc(self, seconds: int, flags: int) -> None:
        self.kicks += 1
        if self._dirty is not None:
            raise Fail(self._dirty)


def _inventory(clock: FakeClock) -> inv.Inventory:
    return inv.Inventory({"h1": HostConfig("h1", "test:///default")}, clock, FakeCalls(), lambda _h: frozenset())


def test_policy_is_read_cached_and_defaults_without_metadata() -> None:
    clock = FakeClock(0.0)
    inventory = _inventory(clock)
    xml = f"<policy xmlns='{inv.parse.POLICY_NS}' live='no'/>"
    assert not inventory.vm_policy("h1", Dom(xml), 0.0).live
    assert not inventory.vm_policy("h1", Dom(errors.NO_DOMAIN_METADATA), 30.0).live  # still cached
    assert inventory.vm_policy("h1", Dom(errors.NO_DOMAIN_METADATA), 61.0).live  # no metadata: defaults
    with pytest.raises(PermanentBackendError, match="metadata"):
        inventory.vm_policy("h1", Dom(errors.NO_SUPPORT), 200.0)


def test_dirty_rate_kick_stops_when_unsupported_and_ignores_other_errors() -> None:
    inventory = _inventory(FakeClock(0.0))
    running = {"state.state": inv.DOMAIN_RUNNING}
    flaky = Dom("", dirty=errors.NO_DOMAIN_METADATA)
    inventory._kick_dirty_rate([(flaky, running)], 0.0)
    inventory._kick_dirty_rate([(flaky, running)], 10.0)  # not again within DIRTY_CALC_EVERY_S
    assert flaky.kicks == 1
    unsupported = Dom("", dirty=errors.NO_SUPPORT)
    inventory._kick_dirty_rate([(unsupported, running)], 100.0)
    inventory._kick_dirty_rate([(unsupported, running)], 200.0)
    assert unsupported.kicks == 1


def test_dirty_rate_memory() -> None:
    inventory = _inventory(FakeClock(0.0))
    assert inventory.dirty_rate("vm1") == 0
    inventory.note_dirty_rate("vm1", 12)
    inventory.note_dirty_rate("vm1", 0)
    assert inventory.dirty_rate("vm1") == 12


class _Net:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class _PoolHandle:
    def name(self) -> str:
        return "local"

    def info(self) -> tuple[int, int, int, int]:
        return 2, 1000 * 1024 * 1024, 400 * 1024 * 1024, 600 * 1024 * 1024

    def XMLDesc(self, flags: int) -> str:
        return "<pool type='dir'><target><path>/images</path></target></pool>"

    def isActive(self) -> int:
        return 1


class _DiskDom(Dom):
    def XMLDesc(self, flags: int) -> str:
        return ("<domain><devices><disk type='file' device='disk'><source file='/images/vm1.raw'/>"
                "<target dev='vda'/></disk><interface type='network'><source network='prod'/></interface>"
                "</devices></domain>")


class _HostConn:
    """What a host's connection answers for its inventory: one network, one pool, one domain with a local disk."""

    def getInfo(self) -> list[int]:
        return [0, 8192, 4]

    def listAllNetworks(self, flags: int) -> list[_Net]:
        return [_Net("prod")]

    def listAllInterfaces(self, flags: int) -> list[_Net]:
        return [_Net("vmbr0")]

    def getCapabilities(self) -> str:
        return "<capabilities><host><cpu><model>Icelake</model></cpu></host></capabilities>"

    def listAllStoragePools(self, flags: int) -> list[_PoolHandle]:
        return [_PoolHandle()]

    def getAllDomainStats(self, stats: int, flags: int) -> list[tuple[Dom, dict[str, object]]]:
        assert stats == inv.STATS_BLOCK
        return [(_DiskDom(""), {"block.count": 1, "block.0.path": "/images/vm1.raw", "block.0.capacity": 100 * 2**20})]


def test_host_facts_carry_pools_with_residents_and_the_migration_network_problem() -> None:
    inventory = inv.Inventory({"h1": HostConfig("h1", "test:///default")}, FakeClock(0.0), FakeCalls(),
                              lambda _h: frozenset(), migration_problem=lambda host, _conn: f"{host}: 10.0.0.9 down")
    info = inventory._host_info("h1", _HostConn())
    assert info.networks == {"prod", "vmbr0"} and info.cpu_group == "Icelake"
    assert info.extra == ((inv.storage.resource("/images"), 600 + 100),)  # free + the resident's disk
    assert info.migration_problem == "h1: 10.0.0.9 down"
