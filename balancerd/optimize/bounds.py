"""Lower bounds: how good could any plan be? Reported with every plan, with the plan's gap to them.

Called by :func:`balancerd.optimize.optimizer.plan` (``Plan.lower_bound``; ``Plan.gap`` = objective - bound)
and by ``benchmarks/optimizer_scale.py`` (:func:`peak_bound`). The objective of a plan is ``-score``: the
imbalance (population standard deviation of utilisation over eligible hosts) + the overload penalty + the
soft-rule penalty.

The bound is that of the FRACTIONAL relaxation, in which every VM a plan could move (running, live, no pin,
exclusion, cooldown or flight) may be split over any eligible hosts:

* imbalance: 0. Utilisation is the larger of CPU and memory load over capacity, so in the relaxation every
  host can be brought to the same utilisation (a host may carry slack in its other resource). No honest
  bound above 0 exists without integrality, so the gap of the imbalance part is the imbalance itself.
* overload: moves only go to eligible hosts, so the total load T_r on eligible hosts (resource r) never
  falls. The load that cannot move (overhead, immovable VMs) forces F_r = sum max(0, fixed - usable) over
  usable capacity, priced per host; any further excess max(0, T_r - sum usable - F_r) is priced at least at
  the largest capacity (the cheapest place to overload).
* soft rules: only immovable VMs outside their preferred hosts keep their penalty.

:func:`peak_bound` is the bound the scale benchmark judges balance against: the most utilised host is at
least at max_r (sum of balance load r) / (sum of capacity r), the perfectly balanced utilisation, and at
the utilisation of the single largest VM on the largest host.
"""

from __future__ import annotations

from balancerd.optimize import scoring as sc
from balancerd.optimize.state import ClusterState, HostLoad


def lower_bound(state: ClusterState, movable: set[str]) -> float:
    """A lower bound on the objective of every plan from ``state`` (see the module docstring)."""
    hosts = state.eligible_hosts()
    fixed = {h.name: [h.cap_cpu, h.cap_mem] for h in hosts}
    for name in movable:
        where = fixed.get(state.location[name])
        if where is not None:
            where[0] -= state.demand[name].cap.cpu_m
            where[1] -= state.demand[name].cap.mem_mib
    overload = sum(_resource_bound(hosts, fixed, r) for r in (0, 1))
    soft = sum(state.rules.soft_misses(vm, state.location[vm]) for vm in state.rules.soft if vm not in movable)
    return sc.OVERLOAD_WEIGHT * overload + state.policy.soft_rule_weight * soft


def _resource_bound(hosts: list[HostLoad], fixed: dict[str, list[int]], r: int) -> float:
    """Least sum over hosts of (load above usable) / capacity for resource ``r`` (0 = CPU, 1 = memory)."""
    caps = [(h.capacity.cpu_m, h.usable_cpu, h.cap_cpu) if r == 0 else (h.capacity.mem_mib, h.usable_mem, h.cap_mem)
            for h in hosts]
    forced = [max(0, fixed[h.name][r] - usable) for h, (_, usable, _) in zip(hosts, caps, strict=True)]
    priced = sum(over / cap for over, (cap, _, _) in zip(forced, caps, strict=True) if cap > 0)
    excess = sum(load for _, _, load in caps) - sum(usable for _, usable, _ in caps) - sum(forced)
    biggest = max((cap for cap, _, _ in caps), default=0)
    return priced + (excess / biggest if excess > 0 and biggest > 0 else 0.0)


def peak_bound(total_cpu: float, total_mem: float, cap_cpu: float, cap_mem: float,
               largest: float = 0.0) -> float:
    """Least possible utilisation of the most utilised host: the perfectly balanced utilisation, or the
    utilisation ``largest`` VM alone causes on the largest host (it has to run somewhere)."""
    return max(total_cpu / cap_cpu if cap_cpu > 0 else 0.0, total_mem / cap_mem if cap_mem > 0 else 0.0, largest)
