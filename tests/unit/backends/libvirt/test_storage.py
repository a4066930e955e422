"""Tests of balancerd.backends.libvirt.storage: local disks and pools as the planner's named resources."""

from __future__ import annotations

from typing import Any

from balancerd.backends.base import PoolInfo
from balancerd.backends.libvirt import storage
from balancerd.model import POOL_PREFIX

MIB = 1024 * 1024


def test_disk_sizes_read_the_block_records() -> None:
    record = {"block.count": 3, "block.0.path": "/images/a.qcow2", "block.0.physical": 300 * MIB,
              "block.0.capacity": 200 * MIB, "block.1.path": "/images/b.raw", "block.1.physical": 4096,
              "block.1.allocation": 4096, "block.1.capacity": 64 * MIB + 1, "block.2.path": "/iso/c.iso"}
    # the largest figure, rounded up (a sparse raw disk's bulk 'physical' is its allocated blocks); no size: left out
    assert storage.disk_sizes(record) == {"/images/a.qcow2": 300, "/images/b.raw": 65}
    assert storage.disk_sizes({}) == {}


def test_disk_extra_sums_the_local_disks_per_pool_directory() -> None:
    sizes = {"/images/a.qcow2": 300, "/images/b.raw": 20, "/data/c.raw": 7}
    extra = storage.disk_extra(("/images/a.qcow2", "/images/b.raw", "/data/c.raw", "/data/unknown.raw"), sizes)
    assert extra == ((POOL_PREFIX + "/data", 7), (POOL_PREFIX + "/images", 320))
    assert storage.resource("/images/") == POOL_PREFIX + "/images"


def test_pool_capacity_is_free_space_plus_resident_disks_for_active_local_pools() -> None:
    pools = (PoolInfo("h1", "local", "/images/", 10000, 6000, 4000),
             PoolInfo("h1", "shared", "/shared", 99999, 0, 99999),
             PoolInfo("h1", "off", "/spare", 500, 0, 500, active=False),
             PoolInfo("h1", "nopath", "", 500, 0, 500))
    resident = {POOL_PREFIX + "/images": 320}
    assert storage.pool_capacity(pools, ("/shared",), resident) == ((POOL_PREFIX + "/images", 4320),)


class _Pool:
    def __init__(self, name: str, path: str) -> None:
        self._name, self._path = name, path

    def name(self) -> str:
        return self._name

    def info(self) -> tuple[int, int, int, int]:
        return 2, 10 * 1024 * MIB, 6 * 1024 * MIB, 4 * 1024 * MIB

    def XMLDesc(self, flags: int) -> str:
        return f"<pool type='dir'><name>{self._name}</name><target><path>{self._path}</path></target></pool>"

    def isActive(self) -> int:
        return 1


class _Conn:
    def listAllStoragePools(self, flags: int) -> list[_Pool]:
        return [_Pool("local", "/images")]


def test_pool_infos_read_path_and_space() -> None:
    def call(host: str, where: str, fn: Any) -> Any:
        return fn()
    assert storage.pool_infos(call, "h1", _Conn()) == (PoolInfo("h1", "local", "/images", 10240, 6144, 4096),)
