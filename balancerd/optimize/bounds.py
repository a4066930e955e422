"""Lower bounds: how good could any plan be? Reported with every plan, with the plan's gap to them.

Called by :func:`balancerd.optimize.optimizer.plan` (``Plan.lower_bound``; ``Plan.gap`` = objective - bound)
and by ``benchmarks/optimizer_scale.py`` (:func:`peak_bound`). The objective of a plan is ``-score``: the
imbalance I (population standard deviation of utilisation over the n eligible hosts) + the overload penalty
P + the soft-rule penalty S. The bound is the sum of a bound on each part; each holds for every plan that
moves at most ``budget`` distinct VMs, all of them from ``candidates`` (a plan's moves never outnumber the
cycle's move budget, and a parked VM's two moves count twice against it, so ``budget`` bounds the VMs moved).

What any plan's end state depends on is which VMs end on which hosts. Relocating VM v from its host o to a
host d changes the utilisation of o by at most w_o(v) = max_r demand_r(v) / capacity_r(o) (utilisation is a
maximum over resources, which is 1-Lipschitz) and that of d by at most w_d(v), so it moves the vector of
utilisations by at most delta(v) = sqrt(w_o(v)^2 + max_d w_d(v)^2) (w_o = 0 when o is not eligible: it is
not in the vector). The standard deviation is ||u - mean||/sqrt(n), 1/sqrt(n)-Lipschitz, hence

* imbalance: I_end >= I_now - (sum of the ``budget`` largest delta) / sqrt(n).
* overload: a host's end load is at least its load now minus what its own residents take away, and its
  penalty is monotone and Lipschitz in load, so P_end >= P_now - (sum of the ``budget`` largest reliefs),
  where the relief of v is min(penalty of its host, OVERLOAD_WEIGHT * sum_r demand_r(v) / capacity_r), r over
  CPU, memory and the named resources its host declares (and at most P_now in total). Without the budget,
  the fractional relaxation (every candidate VM split over any eligible hosts) also bounds it: the load that
  cannot move forces sum max(0, fixed - usable) over usable capacity, priced per host, and any further
  excess of total load over total usable capacity is priced at least at the largest capacity (CPU and
  memory only: leaving named resources out lowers it, so it still bounds). The larger of the two holds.
* soft rules: a miss (a VM off its preferred hosts, a pair of a soft group apart or together) is repaired
  only by moving a VM it involves, and moving one VM repairs at most the misses it takes part in, so
  S_end >= S_now - (the ``budget`` largest of those per candidate), weighted.

:func:`peak_bound` is the bound the scale benchmark judges balance against: the most utilised host is at
least at max_r (sum of balance load r) / (sum of capacity r), the perfectly balanced utilisation, and at
the utilisation of the single largest VM on the largest host.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from balancerd.optimize import scoring as sc
from balancerd.optimize.relaxation import budgeted_bound
from balancerd.optimize.state import ClusterState, HostLoad


def lower_bound(state: ClusterState, candidates: set[str], budget: int) -> float:
    """A lower bound on the objective of every plan from ``state`` that moves at most ``budget`` VMs, all
    from ``candidates`` (see the module docstring)."""
    overload = max(fractional_overload(state, candidates), state.penalty - _relief(state, candidates, budget))
    separate = _imbalance(state, candidates, budget) + max(0.0, overload)
    joint = budgeted_bound(state, candidates, budget)
    return max(separate, joint) + _soft(state, candidates, budget)


def _top(values: Iterable[float], count: int) -> float:
    """Sum of the ``count`` largest of ``values``."""
    return math.fsum(heapq.nlargest(max(0, count), values))


def _imbalance(state: ClusterState, candidates: set[str], budget: int) -> float:
    n = state.count
    if n == 0:
        return 0.0
    hosts = state.eligible_hosts()
    inv_cpu = max((_inv(h.capacity.cpu_m) for h in hosts), default=0.0)
    inv_mem = max((_inv(h.capacity.mem_mib) for h in hosts), default=0.0)
    shifts = (_shift(state, name, inv_cpu, inv_mem) for name in candidates)
    return max(0.0, state.imbalance() - _top(shifts, budget) / math.sqrt(n))


def _shift(state: ClusterState, name: str, inv_cpu: float, inv_mem: float) -> float:
    """delta(v): the most relocating ``name`` anywhere can change the vector of utilisations (L2)."""
    bal = state.demand[name].bal
    origin = state.hosts[state.location[name]]
    away = max(bal.cpu_m * _inv(origin.capacity.cpu_m), bal.mem_mib * _inv(origin.capacity.mem_mib)) \
        if origin.eligible else 0.0
    arrive = max(bal.cpu_m * inv_cpu, bal.mem_mib * inv_mem)
    return math.hypot(away, arrive)


def _relief(state: ClusterState, candidates: set[str], budget: int) -> float:
    """The most overload penalty ``budget`` relocations of candidates can take away."""
    reliefs = (_one_relief(state, name) for name in candidates)
    return min(state.penalty, _top(reliefs, budget))


def _one_relief(state: ClusterState, name: str) -> float:
    origin = state.hosts[state.location[name]]
    if not origin.eligible or origin.pen <= 0:
        return 0.0
    cap = state.demand[name].cap
    declared = dict(origin.capacity.extra)
    spent = cap.cpu_m * _inv(origin.capacity.cpu_m) + cap.mem_mib * _inv(origin.capacity.mem_mib) + sum(
        amount * _inv(declared[n]) for n, amount in cap.extra if n in declared)
    return min(origin.pen, sc.OVERLOAD_WEIGHT * spent)


def _inv(capacity: int) -> float:
    """How much one unit of load can change a ratio of ``capacity`` (:func:`scoring.ratio`: a host without
    capacity counts load itself)."""
    return 1.0 / capacity if capacity > 0 else 1.0


def _soft(state: ClusterState, candidates: set[str], budget: int) -> float:
    rules = state.rules
    fixes = (rules.soft_fix(vm, state.location) for vm in rules.soft if vm in candidates)
    return state.policy.soft_rule_weight * max(0.0, rules.soft_total(state.location) - _top(fixes, budget))


def fractional_overload(state: ClusterState, candidates: set[str]) -> float:
    """The overload penalty of the fractional relaxation: no budget, candidates split at will."""
    hosts = state.eligible_hosts()
    fixed = {h.name: [h.cap_cpu, h.cap_mem] for h in hosts}
    for name in candidates:
        where = fixed.get(state.location[name])
        if where is not None:
            where[0] -= state.demand[name].cap.cpu_m
            where[1] -= state.demand[name].cap.mem_mib
    return sc.OVERLOAD_WEIGHT * sum(_resource_bound(hosts, fixed, r) for r in (0, 1))


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
