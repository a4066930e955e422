"""Figures derived from a snapshot for people and metrics: utilisation, imbalance, drain progress.

Called by the cycle runner to build a :class:`~balancerd.model.CycleReport`. Pure functions over values.
"""

from __future__ import annotations

import statistics

from balancerd.model import ClusterSnapshot, Host, HostUtilisation


def utilisation(snapshot: ClusterSnapshot) -> tuple[HostUtilisation, ...]:
    """Usage / capacity per reachable host."""
    return tuple(_one(h) for h in snapshot.hosts if h.reachable)


def _one(host: Host) -> HostUtilisation:
    cpu = _ratio(host.usage.cpu_m, host.capacity.cpu_m)
    return HostUtilisation(host.name, cpu, _ratio(host.usage.mem_mib, host.capacity.mem_mib))


def imbalance(snapshot: ClusterSnapshot) -> float:
    """Population std deviation of max(cpu, memory) utilisation over reachable hosts not in maintenance."""
    active = {h.name for h in snapshot.hosts if h.reachable and not h.maintenance}
    values = [max(u.cpu, u.memory) for u in utilisation(snapshot) if u.host in active]
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def drain_remaining(snapshot: ClusterSnapshot) -> tuple[tuple[str, int], ...]:
    """VMs still defined on each host in maintenance."""
    return tuple((h.name, len(snapshot.vms_on(h.name))) for h in snapshot.hosts if h.maintenance)


def _ratio(used: int, capacity: int) -> float:
    return used / capacity if capacity > 0 else 0.0
