"""Eligibility of a (VM, destination host) pair, one small function per rule (ARCHITECTURE.md rule 6).

Every constraint is ``(vm, host, state) -> str | None``: a reason in words why ``vm`` may not move to
``host`` now, or None. The strategies call the groups below in their hot loops (VM rules once per VM, host
rules once per host, fit rules per pair); ``explain()`` runs ALL of them and reports every reason.
"""

from __future__ import annotations

from collections.abc import Callable

from balancerd.model import POOL_PREFIX, Host, Vm
from balancerd.optimize.rules import Group
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
        return f"in cooldown on {state.location[vm.name]} after a recent move ({state.policy.cooldown_s} s)"
    return None


def under_daily_cap(vm: Vm, host: Host, state: ClusterState) -> str | None:
    moves = state.capped.get(vm.name)
    if moves is not None:
        return (f"moved {moves} time(s) in the last 24 h on {state.location[vm.name]}, the cap "
                f"(max_moves_per_vm_per_day = {state.policy.max_moves_per_vm_per_day})")
    return None


def not_moved_yet(vm: Vm, host: Host, state: ClusterState) -> str | None:
    if vm.name in state.moved:
        return f"already moved in this plan (to {state.location[vm.name]})"
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
    return _lacks(host, state, "cpu", "m", state.demand[vm.name].cap.cpu_m, load.usable.cpu_m - load.cap_cpu)


def mem_fits(vm: Vm, host: Host, state: ClusterState) -> str | None:
    load = state.hosts[host.name]
    return _lacks(host, state, "memory", "MiB", state.demand[vm.name].cap.mem_mib, load.usable.mem_mib - load.cap_mem)


def _lacks(host: Host, state: ClusterState, resource: str, unit: str, need: int, free: int) -> str | None:
    """The reason ``host`` cannot take ``need`` more of ``resource`` within its usable capacity, or None."""
    if need <= free:
        return None
    return (f"{host.name} lacks {resource}: needs {need} {unit}, {max(free, 0)} {unit} free "
            f"within {100 - state.policy.headroom_pct}% of capacity")


def extra_fits(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """Named resources beyond CPU and memory (``Resources.extra``) within usable capacity."""
    need = state.demand[vm.name].cap.extra
    if not need:
        return None
    load = state.extra_load.get(host.name, {})
    usable = state.hosts[host.name].usable
    for name, amount in need:
        free = usable.amount(name) - load.get(name, 0)
        if amount > free:
            return f"{host.name} lacks {pool_name(name)}: needs {amount}, {max(free, 0)} free"
    return None


def pool_name(name: str) -> str:
    """How a named resource reads in a reason: ``pool:/dir`` is "room in the storage pool at /dir"."""
    return f"room in the storage pool at {name.removeprefix(POOL_PREFIX)} (MiB)" if name.startswith(POOL_PREFIX) \
        else name


def facts_allow(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """Pre-flight facts: the host has the VM's networks (network map applied), can run its CPU, and is
    reachable on the migration network (:mod:`balancerd.optimize.facts`)."""
    blocked = state.blocked.get(vm.name)
    return None if blocked is None else blocked.get(host.name)


def not_failed_here(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """The failure memory: a pair in back-off waits; a pair at ``max_failures`` waits for a release."""
    record = state.failures.get((vm.name, host.name))
    if record is None:
        return None
    last = f" (last: {record.last_error})" if record.last_error else ""
    if record.count >= state.policy.max_failures:
        return (f"moving to {host.name} failed {record.count} times{last}; blocked until "
                f"`balancerctl release {vm.name}`")
    if record.retry_at > state.now:
        return (f"moving to {host.name} failed {record.count} time{'s' if record.count > 1 else ''}{last}; "
                f"back-off: next try in {record.retry_at - state.now:.0f} s")
    return None


def not_excluded(vm: Vm, host: Host, state: ClusterState) -> str | None:
    label = state.rules.excluded.get(vm.name)
    return None if label is None else f"excluded from balancerd by {label}; it stays on {state.location[vm.name]}"


def not_pinned(vm: Vm, host: Host, state: ClusterState) -> str | None:
    label = state.rules.pinned.get(vm.name)
    return None if label is None else f"pinned to {state.location[vm.name]} by {label}"


def host_rules_allow(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """Hard VM-host rules: must run on / must not run on."""
    for rule in state.rules.host_rules.get(vm.name, ()):
        if rule.kind == "must" and host.name not in rule.hosts:
            allowed = ", ".join(sorted(rule.hosts)) or "no host"
            return f"{rule.name}: {vm.name} must run on {allowed}, not on {host.name}"
        if rule.kind == "must_not" and host.name in rule.hosts:
            return f"{rule.name}: {vm.name} must not run on {host.name}"
    return None


def anti_affinity(vm: Vm, host: Host, state: ClusterState) -> str | None:
    for group in state.rules.groups.get(vm.name, ()):
        if group.kind != "anti_affinity":
            continue
        clash = [m for m in group.members if m != vm.name and state.location.get(m) == host.name]
        if clash:
            return f"anti-affinity {group.name}: {clash[0]} already runs on {host.name}"
    return None


def affinity(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """Members stay together: a VM may only go where the others are (a drained host's members follow)."""
    source = state.location[vm.name]
    draining = state.hosts[source].host.maintenance if source in state.hosts else False
    for group in state.rules.groups.get(vm.name, ()):
        if group.kind != "affinity":
            continue
        apart = [m for m in group.members if m != vm.name and m in state.location
                 and state.location[m] != host.name and not (draining and state.location[m] == source)]
        if apart:
            return f"affinity {group.name}: {apart[0]} runs on {state.location[apart[0]]}, not on {host.name}"
    return None


def spread(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """A move may not take a group below ``min_domains`` failure domains (nor further below it)."""
    domain_of = state.rules.domain_of
    for group in state.rules.groups.get(vm.name, ()):
        if group.kind != "spread":
            continue
        others = [domain_of.get(state.location[m], "") for m in group.members if m != vm.name and m in state.location]
        before = len({*others, domain_of.get(state.location[vm.name], "")})
        after = len({*others, domain_of.get(host.name, "")})
        if after < min(group.min_domains, before):
            return (f"spread {group.name}: on {host.name} ({domain_of.get(host.name)}) the group would span "
                    f"{after} failure domains, {group.min_domains} required")
    return None


def dependency(vm: Vm, host: Host, state: ClusterState) -> str | None:
    """Dependencies within a failure domain: a dependant goes only where a VM it depends on runs, and the last
    depended-on VM of a domain may not leave dependants behind. Moves within a domain never matter."""
    domain_of = state.rules.domain_of
    source = state.location[vm.name]
    here, there = domain_of.get(source, source), domain_of.get(host.name, host.name)
    if here == there:
        return None
    for group in state.rules.groups.get(vm.name, ()):
        if group.kind == "depends":
            reason = _arrival(vm.name, group, there, state) or _departure(vm.name, group, here, state)
            if reason is not None:
                return f"depends {group.name}: {reason} (a move to {host.name})"
    return None


def _in_domain(vms: tuple[str, ...], skip: str, domain: str, state: ClusterState) -> list[str]:
    domain_of, location = state.rules.domain_of, state.location
    return [m for m in vms if m != skip and m in location and domain_of.get(location[m], location[m]) == domain]


def _arrival(vm: str, group: Group, there: str, state: ClusterState) -> str | None:
    if vm not in group.members or vm in group.needs or _in_domain(group.needs, vm, there, state):
        return None
    return f"no VM {vm} depends on ({', '.join(group.needs[:3]) or 'none'}) runs in failure domain {there}"


def _departure(vm: str, group: Group, here: str, state: ClusterState) -> str | None:
    if vm not in group.needs or _in_domain(group.needs, vm, here, state):
        return None
    left = _in_domain(group.members, vm, here, state)
    if not left:
        return None
    return f"{vm} is the last VM {left[0]} depends on in failure domain {here}"


VM_RULES: tuple[Constraint, ...] = (source_reachable, not_in_flight, not_in_cooldown, under_daily_cap, not_moved_yet,
                                    not_excluded, not_pinned)
"""Rules about the VM alone (checked once per VM; ``host`` is ignored)."""

DRAIN_VM_RULES: tuple[Constraint, ...] = (source_reachable, not_in_flight, not_moved_yet, not_excluded, not_pinned)
"""VM rules for drains (and restores, repairs): they override the cooldown and the per-VM daily cap."""

HOST_RULES: tuple[Constraint, ...] = (not_same_host, dest_reachable, dest_not_in_maintenance)
PLACEMENT_RULES: tuple[Constraint, ...] = (host_rules_allow, anti_affinity, affinity, spread, dependency,
                                          facts_allow, not_failed_here)
"""The policy's placement rules, the pre-flight facts and the failure memory (only VMs in
``state.constrained`` can be blocked by them)."""
FIT_RULES: tuple[Constraint, ...] = (cpu_fits, mem_fits, extra_fits)
ALL_RULES: tuple[Constraint, ...] = VM_RULES + HOST_RULES + PLACEMENT_RULES + FIT_RULES


def placement_allows(vm: Vm, host: Host, state: ClusterState) -> bool:
    """True when no placement rule and no named-resource limit blocks ``vm`` on ``host`` (fast path for most VMs)."""
    if vm.name in state.constrained and reasons(vm, host, state, PLACEMENT_RULES):
        return False
    return not state.demand[vm.name].cap.extra or extra_fits(vm, host, state) is None


def reasons(vm: Vm, host: Host, state: ClusterState,
            rules: tuple[Constraint, ...] = ALL_RULES) -> tuple[str, ...]:
    """Every reason from ``rules`` why ``vm`` may not move to ``host``."""
    found = (rule(vm, host, state) for rule in rules)
    return tuple(reason for reason in found if reason is not None)
