"""What no placement can fix: demand above the cluster's usable capacity, hosts left over capacity.

Called by :func:`balancerd.optimize.optimizer.plan` after the plan is made; its findings become
``Plan.infeasible`` (and notes), which the daemon logs, puts in the status and exports as
``balancerd_plan_infeasible``. Pure. Two findings, each naming the resource and the amounts:

* the running VMs on eligible and drained hosts need more of a resource (CPU, memory or a named one such as
  ``vcpu`` or a storage pool) than the eligible hosts have within their usable capacity: no placement fits;
* an eligible host is still over its usable capacity at the end of a plan that did not use its whole move
  budget: no move relieves it.
"""

from __future__ import annotations

from balancerd.optimize.constraints import pool_name
from balancerd.optimize.state import ClusterState


def findings(end: ClusterState, moves: int) -> tuple[str, ...]:
    """The cluster-wide shortfalls (the same for every placement), then the hosts ``end`` (the state the plan
    leads to) leaves over capacity when the plan had moves to spare."""
    found = _shortfalls(end)
    if moves < end.policy.max_moves_per_cycle:
        found.extend(_left_over(end))
    return tuple(found)


def _shortfalls(state: ClusterState) -> list[str]:
    need: dict[str, int] = {}
    for name, where in state.location.items():
        if state.hosts[where].host.reachable:
            cap = state.demand[name].cap
            for resource, amount in (("cpu_m", cap.cpu_m), ("mem_mib", cap.mem_mib), *cap.extra):
                need[resource] = need.get(resource, 0) + amount
    eligible = [h for h in state.hosts.values() if h.eligible]
    found: list[str] = []
    for resource, amount in sorted(need.items()):
        have = sum(h.usable.amount(resource) for h in eligible)
        if amount > have and (resource in ("cpu_m", "mem_mib") or _named_anywhere(state, resource)):
            found.append(f"demand exceeds capacity: {_label(resource)} {amount} needed, {have} usable on "
                         f"{len(eligible)} eligible host(s) (short by {amount - have})")
    return found


def _named_anywhere(state: ClusterState, resource: str) -> bool:
    """Whether any host declares the named resource (a resource no host declares is not limited)."""
    return any(dict(h.capacity.extra).get(resource) is not None for h in state.hosts.values())


def _left_over(state: ClusterState) -> list[str]:
    found: list[str] = []
    for host in sorted(state.hosts.values(), key=lambda h: h.name):
        if not host.eligible:
            continue
        over = [(r, load, cap) for r, load, cap in (("cpu_m", host.cap_cpu, host.usable_cpu),
                                                    ("mem_mib", host.cap_mem, host.usable_mem)) if load > cap]
        over += [(r, load, host.usable.amount(r)) for r, load in sorted(state.extra_load.get(host.name, {}).items())
                 if load > host.usable.amount(r) and _named_anywhere(state, r)]
        found.extend(f"{host.name} over capacity after the plan and no move relieves it: {_label(r)} {load} of "
                     f"{cap} usable" for r, load, cap in over)
    return found


def _label(resource: str) -> str:
    return {"cpu_m": "CPU (millicores)", "mem_mib": "memory (MiB)"}.get(resource, pool_name(resource))
