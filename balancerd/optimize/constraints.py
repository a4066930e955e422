"""Eligibility of a (VM, destination host) pair, one small function per rule (DESIGN rule 6).

Every constraint is ``(vm, host, state) -> str | None``: a reason in words why ``vm`` may not move to
``host`` now, or None. The strategies call the groups below in their hot loops (VM rules once per VM, host
rules once per host, fit rules per pair); ``explain()`` runs ALL of them and reports every reason.
"""

from __future__ import annotations

from collections.abc import Callable

from balancerd.model import Host, Vm
from balancerd.optimize.state import ClusterState

Constraint = Callable[[Vm, Host, ClusterState], str | None]


def source_reachable(vm: Vm, host: Host, state: ClusterState) -> str | None:
    source = state.hosts.get(state.location[vm.name])
    if source is None:
        return f"its host {state.location[vm.name]} is not in the snapshot"
    if not source.host.reachable:
        return f"its host {source.name} is unreachable"
    return None


def not_in_flight(vm: Vm, host: Host, state: ClusterState) -> str | None:
    flight = state.in_flight.get(vm.name)
    if flight is not None:
        return f"already migrating {flight.source} -> {flight.dest}"
    return None


def not_in_cooldown(vm: Vm, host: Host, state: ClusterState) -> str | None:
    if vm.name in state.cooldown:
        return f"in cooldown after a recent move ({state.policy.cooldown_s} s)"
    return None


def not_moved_yet(vm: Vm, host: Host, state: ClusterState) -> str | None:
    if vm.name in state.moved:
        return "already moved in this plan"
    return None


def not_same_host(vm: Vm, host: Host, state: ClusterState) -> str | None:
    if state.location[vm.name] == host.name:
        return f"already on {host.name}"
    return None


def dest_reachable(vm: Vm, host: Host, state: ClusterState) -> str | None:
    if not host.reachable:
        return f"{host.name} is unreachable"
    return None


def dest_not_in_maintenance(vm: Vm, host: Host, state: ClusterState) -> str | None:
    if host.maintenance:
        return f"{host.name} is in maintenance"
    return None


def cpu_fits(vm: Vm, host: Host, state: ClusterState) -> str | None:
    load = state.hosts[host.name]
    need = state.demand[vm.name].cap.cpu_m
    free = load.usable.cpu_m - load.cap_cpu
    if need > free:
        return (f"{host.name} lacks cpu: needs {need} m, {max(free, 0)} m free "
                f"within {100 - state.policy.headroom_pct}% of capacity")
    return None


def mem_fits(vm: Vm, host: Host, state: ClusterState) -> str | None:
    load = state.hosts[host.name]
    need = state.demand[vm.name].cap.mem_mib
    free = load.usable.mem_mib - load.cap_mem
    if need > free:
        return (f"{host.name} lacks memory: needs {need} MiB, {max(free, 0)} MiB free "
                f"within {100 - state.policy.headroom_pct}% of capacity")
    return None


VM_RULES: tuple[Constraint, ...] = (source_reachable, not_in_flight, not_in_cooldown, not_moved_yet)
"""Rules about the VM alone (checked once per VM; ``host`` is ignored)."""

DRAIN_VM_RULES: tuple[Constraint, ...] = (source_reachable, not_in_flight, not_moved_yet)
"""VM rules for drains: a drain overrides the cooldown."""

HOST_RULES: tuple[Constraint, ...] = (not_same_host, dest_reachable, dest_not_in_maintenance)
FIT_RULES: tuple[Constraint, ...] = (cpu_fits, mem_fits)
ALL_RULES: tuple[Constraint, ...] = VM_RULES + HOST_RULES + FIT_RULES


def reasons(vm: Vm, host: Host, state: ClusterState,
            rules: tuple[Constraint, ...] = ALL_RULES) -> tuple[str, ...]:
    """Every reason from ``rules`` why ``vm`` may not move to ``host``."""
    found = (rule(vm, host, state) for rule in rules)
    return tuple(reason for reason in found if reason is not None)
