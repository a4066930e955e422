"""Storage pools and local disks of the libvirt backend: what pre-flight checks and what the planner counts.

Called by ``moves`` (pre-flight's storage check and disk moves read :func:`pool_infos`), by ``cluster``
(``storage_pools``) and by ``inventory`` (the planning facts: :func:`pool_capacity` of a host,
:func:`disk_extra` of a domain). A local disk (writable, not under ``[migration] shared_paths``) is copied by a
storage migration into the pool on the destination whose target directory is the disk's directory (libvirt
pre-creates it there, lab notes pitfall 10). The planner counts such a disk as the named resource
``model.POOL_PREFIX + directory`` (the unit the simulated backend uses too); a host's capacity of it is the
pool's free space plus what the local disks of the domains on it hold there, so that capacity minus their
disks is what is free now, as pre-flight sees it. A disk's size is the most it can need on a destination (its
virtual size, or more when the file is larger), never below pre-flight's figure.
No libvirt import: the calls come in through ``call`` (ARCHITECTURE.md rule 3).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from balancerd.backends.base import PoolInfo
from balancerd.backends.libvirt import domxml as dxml
from balancerd.model import POOL_PREFIX, Extra

_T = TypeVar("_T")
Call = Callable[[str, str, Callable[[], _T]], _T]
MIB = 1024 * 1024


def pool_infos(call: Call[Any], host: str, conn: Any) -> tuple[PoolInfo, ...]:
    """Every storage pool of ``host`` with its target path and space."""
    pools = call(host, f"host {host}: storage pools", lambda: conn.listAllStoragePools(0))
    return tuple(_pool_info(call, host, pool) for pool in pools)


def _pool_info(call: Call[Any], host: str, pool: Any) -> PoolInfo:
    where = f"host {host}: pool {pool.name()}"
    _state, capacity, allocation, available = call(host, where, pool.info)
    path = dxml.pool_path(call(host, where, lambda: pool.XMLDesc(0)))
    return PoolInfo(host, pool.name(), path, int(capacity) // MIB, int(allocation) // MIB, int(available) // MIB,
                    bool(call(host, where, pool.isActive)))


def resource(directory: str) -> str:
    """The named resource of local disks in ``directory``."""
    return POOL_PREFIX + (directory.rstrip("/") or "/")


def disk_sizes(record: Mapping[str, object]) -> dict[str, int]:
    """Path -> MiB each block device of a ``getAllDomainStats`` record (``block.N.*``) can need on a destination:
    the largest of its capacity (virtual size), allocation and physical size. (For a running domain libvirt's
    bulk ``physical`` is the allocated blocks of a sparse file, 4 KiB for a fresh 64 MiB raw disk in the lab,
    while pre-flight's ``blockInfo`` says the file's 64 MiB; the virtual size covers both.)"""
    count = record.get("block.count")
    sizes: dict[str, int] = {}
    for i in range(count if isinstance(count, int) else 0):
        path = record.get(f"block.{i}.path")
        figures = [v for key in ("capacity", "allocation", "physical")
                   if isinstance(v := record.get(f"block.{i}.{key}"), int)]
        if isinstance(path, str) and figures:
            sizes[path] = -(-max(figures) // MIB)
    return sizes


def disk_extra(local_paths: Iterable[str], sizes: Mapping[str, int]) -> Extra:
    """What a domain's local disks need, per pool directory, as sorted named resources."""
    need: dict[str, int] = {}
    for path in local_paths:
        name = resource(os.path.dirname(path))
        need[name] = need.get(name, 0) + sizes.get(path, 0)
    return tuple(sorted(need.items()))


def pool_capacity(pools: Iterable[PoolInfo], shared_paths: Iterable[str], resident: Mapping[str, int]) -> Extra:
    """A host's capacity of each local-disk resource: an active pool's free MiB plus the local disks of the
    domains on the host in it (``resident``: resource -> MiB); pools on shared storage are not counted."""
    shared = tuple(shared_paths)
    found: dict[str, int] = {}
    for pool in pools:
        if pool.active and pool.path and not dxml.is_shared(pool.path, shared):
            name = resource(pool.path)
            found[name] = max(found.get(name, 0), pool.available_mib + resident.get(name, 0))
    return tuple(sorted(found.items()))
