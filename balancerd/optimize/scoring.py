"""The cluster score: formulas shared by every optimizer strategy.

Called by :mod:`balancerd.optimize.state` (which keeps the sums these formulas need up to date as moves are
tried) and through it by ``optimize.score()``, ``plan()`` and ``explain()``. Pure arithmetic, no state.

Utilisation of a host is the larger of its CPU and memory load over its full capacity. Imbalance is the
population standard deviation of utilisation across eligible hosts. The overload penalty weighs every unit
of load above a host's usable capacity (capacity minus the policy's headroom) heavily. The score is
``-(imbalance + penalty)``: higher is better, 0 is a perfectly balanced cluster with nothing overloaded.
"""

from __future__ import annotations

import math

from balancerd.model import Resources

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
