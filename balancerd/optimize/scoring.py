"""The cluster score: formulas shared by every optimizer strategy.

Called by :mod:`balancerd.optimize.state` (which keeps the sums these formulas need up to date as moves are
tried) and through it by ``optimize.score()``, ``plan()`` and ``explain()``. Pure arithmetic, no state.

Utilisation of a host is the larger of its CPU and memory load over its full capacity. Imbalance is the
population standard deviation of utilisation across eligible hosts. The overload penalty weighs every unit
of load above a host's usable capacity (capacity minus the policy's headroom) heavily, named resources
(``Resources.extra``: vCPU limits, storage pools) as much as CPU and memory. The score is
``-(imbalance + penalty)``: higher is better, 0 is a perfectly balanced cluster with nothing overloaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from balancerd.model import POOL_PREFIX, Resources

OVERLOAD_WEIGHT = 10.0
"""Penalty per unit of (load above usable capacity) / capacity, per resource."""


def ratio(load: int, capacity: int) -> float:
    """``load / capacity``; a host without capacity is full as soon as anything is on it."""
    if capacity > 0:
        return load / capacity
    return 0.0 if load <= 0 else float(load)


def utilisation(cpu_m: int, mem_mib: int, capacity: Resources) -> float:
    """Largest fraction of capacity used over the two resources."""
    return max(ratio(cpu_m, capacity.cpu_m), ratio(mem_mib, capacity.mem_mib))


def dominant(cpu_m: int, mem_mib: int, capacity: Resources) -> str:
    """Name of the resource that sets the utilisation ("cpu" or "mem")."""
    return "cpu" if ratio(cpu_m, capacity.cpu_m) >= ratio(mem_mib, capacity.mem_mib) else "mem"


def overload(cpu_m: int, mem_mib: int, usable: Resources, capacity: Resources) -> float:
    """Penalty for load above the usable capacity."""
    cpu_over = ratio(max(0, cpu_m - usable.cpu_m), capacity.cpu_m)
    mem_over = ratio(max(0, mem_mib - usable.mem_mib), capacity.mem_mib)
    return OVERLOAD_WEIGHT * (cpu_over + mem_over)


def named_overload(load: Mapping[str, int], usable: Resources, capacity: Resources) -> float:
    """Penalty for named-resource load (vCPU limits, storage pools, ...) above the usable capacity.

    Only resources the host declares count: one it does not declare is not modelled on that host.
    """
    declared = dict(capacity.extra)
    over = sum(ratio(max(0, amount - usable.amount(name)), declared[name])
               for name, amount in load.items() if name in declared)
    return OVERLOAD_WEIGHT * over


def pstdev(count: int, total: float, total_sq: float) -> float:
    """Population standard deviation from the count, sum and sum of squares."""
    if count == 0:
        return 0.0
    mean = total / count
    return math.sqrt(max(0.0, total_sq / count - mean * mean))


def cluster_score(imbalance: float, penalty: float) -> float:
    """Higher is better."""
    return -(imbalance + penalty)


def usable_capacity(capacity: Resources, headroom_pct: int) -> Resources:
    """Capacity scaled by (100 - headroom)%."""
    return capacity.scaled((100 - headroom_pct) * 10)


MAX_MIGRATION_FACTOR = 10
"""A VM dirtying memory as fast as the link carries it is costed at this many times its memory."""


def migration_mib(mem_mib: int, dirty_rate_mib_s: int, bandwidth_mib_s: int) -> int:
    """Expected MiB a live migration transfers: pre-copy rounds resend dirtied memory, M / (1 - d / b)."""
    if bandwidth_mib_s <= 0 or dirty_rate_mib_s * MAX_MIGRATION_FACTOR >= bandwidth_mib_s * (MAX_MIGRATION_FACTOR - 1):
        return mem_mib * MAX_MIGRATION_FACTOR
    return int(mem_mib * bandwidth_mib_s / (bandwidth_mib_s - dirty_rate_mib_s))


def local_disk_mib(size: Resources) -> int:
    """MiB of local disks a live migration copies with the VM: its storage-pool resources."""
    return sum(mib for name, mib in size.extra if name.startswith(POOL_PREFIX))


def move_mib(size: Resources, dirty_rate_mib_s: int, bandwidth_mib_s: int) -> int:
    """Expected MiB one move carries: memory over the pre-copy rounds plus the local disks it copies."""
    return migration_mib(size.mem_mib, dirty_rate_mib_s, bandwidth_mib_s) + local_disk_mib(size)


def worth_it(gain: float, hosts: int, cost_ratio: float, min_gain: float) -> bool:
    """Anti-oscillation: a move must gain ``min_gain`` per eligible host, scaled by its migration cost.

    ``gain`` is the score change (a standard deviation, so one move's effect shrinks like 1 / hosts);
    ``gain * hosts`` does not depend on the cluster size. ``cost_ratio`` is the move's migration cost over
    that of the cluster's average movable VM (1.0 for an average VM, more for large or busy VMs).
    """
    return gain > 1e-9 and gain * hosts >= min_gain * cost_ratio
