"""The daemon's working state as the engine's model: what improvement may change after construction.

Called by :mod:`balancerd.optimize.engine.improve`. Processes are the VMs, then one frozen process per host
that carries what the VMs placed there do not account for (the host's own overhead, the far end of a migration
in flight, named resources). Resources are the capacity demand (CPU upper quantile, memory; named resources)
and, as separate columns, the balance demand (CPU point forecast, memory usage), so that capacity and safety
(usable capacity, ``policy.headroom_pct``) bind the first and the second load tier (each eligible host's share of
the cluster's load) measures imbalance on the second. Costs are in one integer unit, ``SCALE`` per unit of
the cluster score:

- usage above usable capacity: ``OVERLOAD_WEIGHT`` per unit of the host's capacity, as :func:`scoring.overload`;
- imbalance: load above a host's share (the mean utilisation of the eligible hosts times its capacity), per
  unit of its capacity over the square root of the host count (the cluster score's standard deviation falls by
  about that much when a host's excess falls by one unit);
- a move: ``policy.min_gain`` times its migration cost (memory and dirty rate over the link, over the mean
  of the movable VMs) over the host count, as :func:`scoring.worth_it` asks of any move, times
  ``policy.cross_domain_cost`` between failure domains;
- soft VM-host rules: ``policy.soft_rule_weight`` per weighted miss.

Hard VM-host rules, pre-flight facts and failure memory become per-VM masks; anti-affinity, spread and
dependency groups become services over the failure domains (the model's locations and neighbourhoods,
:mod:`balancerd.optimize.engine.groups`). A VM under a rule the model does not carry (affinity, soft VM-VM
pairs, two group rules) is frozen where construction put it, as is every VM balancing may not move and every
VM that a drain, restore or repair moved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from balancerd.model import Resources
from balancerd.optimize import constraints
from balancerd.optimize import scoring as sc
from balancerd.optimize.balance import cost_ratios, movable_vms
from balancerd.optimize.engine.groups import Services, services
from balancerd.optimize.engine.model import BoolArray, IntArray, Model
from balancerd.optimize.state import ClusterState, Demand

SCALE = 1_000_000_000
"""Integer cost units per unit of the cluster score."""
_UNBOUNDED = 1 << 40
"""Capacity and thresholds of the balance columns: no limit, no overload tier."""
NDFloat = NDArray[np.float64]
_MASKS = (constraints.host_rules_allow, constraints.facts_allow, constraints.not_failed_here)


@dataclass(frozen=True)
class Problem:
    """The model with the original (snapshot) and start (construction) assignments and the names behind them."""

    model: Model
    original: IntArray
    start: IntArray
    vms: tuple[str, ...]
    hosts: tuple[str, ...]


def problem(start: ClusterState, end: ClusterState, free: Iterable[str], max_moves: int | None = None) -> Problem:
    """The model of ``start`` (the snapshot's state) with ``end`` (construction's) as the start assignment;
    only the VMs in ``free`` may move, and at most ``max_moves`` VMs may end away from their host in ``start``
    (default ``policy.max_moves_per_cycle``)."""
    hosts = tuple(start.hosts)
    vms = tuple(start.vms)
    index = {name: m for m, name in enumerate(hosts)}
    extras = sorted({n for load in start.hosts.values() for n, _ in load.capacity.extra}
                    | {n for d in start.demand.values() for n, _ in d.cap.extra})
    req = np.array([_row(start.demand[v], extras) for v in vms] + _overheads(start, extras), dtype=np.int64)
    original = np.array([index[start.location[v]] for v in vms] + list(range(len(hosts))), dtype=np.int64)
    at = np.array([index[end.location[v]] for v in vms] + list(range(len(hosts))), dtype=np.int64)
    budget = start.policy.max_moves_per_cycle if max_moves is None else max_moves
    model = _model(start, hosts, extras, req, services(start, end, vms, set(free)), budget)
    sizes = _migrated_mib(start, len(hosts))  # improvement migrates no more than construction does
    model = replace(model, move_size=sizes, max_move_size=int(sizes[original != at].sum()))
    return Problem(model, original, at, vms, hosts)


def _row(demand: Demand, extras: list[str]) -> list[int]:
    cap, bal = demand.cap, demand.bal
    return [cap.cpu_m, cap.mem_mib, bal.cpu_m, bal.mem_mib, *(cap.amount(n) for n in extras)]


def _overheads(state: ClusterState, extras: list[str]) -> list[list[int]]:
    """Per host: its load minus the demand of the VMs placed on it (overhead, far ends of flights)."""
    rows = []
    for name, load in state.hosts.items():
        named = state.extra_load.get(name, {})
        row = [load.cap_cpu, load.cap_mem, load.bal_cpu, load.bal_mem, *(named.get(n, 0) for n in extras)]
        for vm in state.on_host[name]:
            row = [a - b for a, b in zip(row, _row(state.demand[vm], extras), strict=True)]
        rows.append([max(0, v) for v in row])
    return rows


def _model(state: ClusterState, hosts: tuple[str, ...], extras: list[str], req: IntArray, svc: Services,
           max_moves: int) -> Model:
    loads = [state.hosts[h] for h in hosts]
    cap = np.array([_capacity(load.capacity, extras) for load in loads], dtype=np.int64)
    safety = np.array([_capacity(load.usable, extras) for load in loads], dtype=np.int64)
    n_res = cap.shape[1]
    eligible = np.array([load.eligible for load in loads], dtype=bool)
    n_hosts = max(1, int(eligible.sum()))
    unit = _unit(cap)  # a unit of load weighs by the host's own capacity, as the cluster score's ratios do
    balance = _is_balance(n_res)[None, :]
    weight_load = np.where(balance, 0, np.round(sc.OVERLOAD_WEIGHT * SCALE * unit)).astype(np.int64)
    weight_level = np.where(balance, np.round(SCALE * unit / math.sqrt(n_hosts)), 0).astype(np.int64)
    areas, distance = _areas(state, hosts)
    n_own = svc.distinct.shape[0]  # the host rows are services of their own after the VMs'
    frozen = np.concatenate([svc.frozen, np.ones(len(hosts), dtype=bool)])
    return Model(
        transient=np.zeros(n_res, dtype=bool), weight_load=weight_load, neighborhood=areas, location=areas,
        capacity=cap, safety=safety, machine_move_cost=distance,
        spread_min=np.concatenate([svc.spread_min, np.zeros(len(hosts), np.int64)]),
        dependencies=svc.dependencies + tuple(() for _ in hosts),
        service=np.concatenate([svc.of, n_own + np.arange(len(hosts))]), requirement=req,
        process_move_cost=_move_costs(state, len(hosts), n_hosts),
        balance_r1=np.zeros(0, np.int64), balance_r2=np.zeros(0, np.int64), balance_target=np.zeros(0, np.int64),
        balance_weight=np.zeros(0, np.int64), weight_process_move=1, weight_service_move=0, weight_machine_move=1,
        level=_level(state, hosts, cap, eligible), weight_level=weight_level, open_host=eligible, frozen=frozen,
        only=_masks(state, hosts, frozen), place_cost=_place_costs(state, hosts, frozen),
        max_moves=max_moves, move_area=areas,
        distinct=np.concatenate([svc.distinct, np.ones(len(hosts), dtype=bool)]))


def _capacity(res: Resources, extras: list[str]) -> list[int]:
    return [res.cpu_m, res.mem_mib, _UNBOUNDED, _UNBOUNDED, *(res.amount(n) for n in extras)]


def _is_balance(n_res: int) -> BoolArray:
    column = np.zeros(n_res, dtype=bool)
    column[2:4] = True
    return column


def _unit(cap: IntArray) -> NDFloat:
    """1 / each host's own capacity per resource, [M, R] (the balance columns take CPU's and memory's; 0 where
    a host has none: the capacity constraint keeps such load off it)."""
    own = cap.astype(np.float64)
    own[:, 2:4] = own[:, 0:2]
    out: NDFloat = np.where(own > 0, 1.0 / np.maximum(own, 1.0), 0.0)
    return out


def _level(state: ClusterState, hosts: tuple[str, ...], cap: IntArray, eligible: BoolArray) -> IntArray:
    """Each eligible host's share of the balance load: the mean utilisation of the eligible hosts (their
    larger of CPU and memory fraction, which the cluster score's deviation is taken over) times its capacity,
    on both balance columns; none elsewhere."""
    level = np.full(cap.shape, _UNBOUNDED, dtype=np.int64)
    if not eligible.any():
        return level
    share = float(np.mean([state.hosts[h].util for h, ok in zip(hosts, eligible, strict=True) if ok]))
    for r in (2, 3):
        level[eligible, r] = np.floor(share * cap[eligible, r - 2].astype(np.float64)).astype(np.int64)
    return level


def _areas(state: ClusterState, hosts: tuple[str, ...]) -> tuple[IntArray, IntArray]:
    """Each host's failure domain, and the extra cost of a move between two domains."""
    domains = sorted({state.rules.domain_of.get(h, h) for h in hosts})
    index = {d: i for i, d in enumerate(domains)}
    areas = np.array([index[state.rules.domain_of.get(h, h)] for h in hosts], dtype=np.int64)
    extra = state.policy.cross_domain_cost - 1.0
    mean_cost = SCALE * state.policy.min_gain / max(1, sum(load.eligible for load in state.hosts.values()))
    distance = np.full((len(domains), len(domains)), round(max(0.0, extra) * mean_cost), dtype=np.int64)
    np.fill_diagonal(distance, 0)
    return areas, distance


def _move_costs(state: ClusterState, n_hosts_all: int, n_hosts: int) -> IntArray:
    """Each VM's move cost (construction's ratio to the mean movable VM, as ``min_gain`` prices it); none for
    the host rows."""
    ratio = cost_ratios(state, list(state.vms), movable_vms(state))
    per_vm = np.round(SCALE * state.policy.min_gain * ratio / n_hosts).astype(np.int64)
    return np.concatenate([per_vm, np.zeros(n_hosts_all, dtype=np.int64)])


def _migrated_mib(state: ClusterState, n_hosts_all: int) -> IntArray:
    """What moving each VM migrates, in MiB (as the plan's ``migration_mib`` counts it); 0 for the host rows."""
    return np.array([state.move_mib(vm) for vm in state.vms] + [0] * n_hosts_all, dtype=np.int64)


def _masks(state: ClusterState, hosts: tuple[str, ...], frozen: BoolArray) -> Mapping[int, BoolArray]:
    """Per constrained movable VM, the hosts its hard VM-host rules, facts and failure memory allow."""
    found: dict[int, BoolArray] = {}
    for p, name in enumerate(state.vms):
        if frozen[p] or name not in state.constrained:
            continue
        vm = state.vms[name]
        found[p] = np.array([all(check(vm, state.hosts[h].host, state) is None for check in _MASKS)
                             for h in hosts], dtype=bool)
    return found


def _place_costs(state: ClusterState, hosts: tuple[str, ...], frozen: BoolArray) -> Mapping[int, IntArray]:
    """Per movable VM with soft VM-host rules, the cost of its weighted misses on each host."""
    weight = SCALE * state.policy.soft_rule_weight
    found: dict[int, IntArray] = {}
    for p, name in enumerate(state.vms):
        if frozen[p] or name not in state.rules.host_rules:
            continue
        misses = [state.rules.soft_misses(name, h) for h in hosts]
        if any(misses):
            found[p] = np.round(np.array(misses) * weight).astype(np.int64)
    return found
