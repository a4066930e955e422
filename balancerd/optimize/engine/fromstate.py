"""The daemon's working state as the engine's model: what improvement may change after construction.

Called by :mod:`balancerd.optimize.engine.improve`. Processes are the VMs, then one frozen process per host
that carries what the VMs placed there do not account for (the host's own overhead, the far end of a migration
in flight, named resources). Resources are the capacity demand (CPU upper quantile, memory; named resources)
and, as separate columns, the balance demand (CPU point forecast, memory usage), so that capacity and safety
(usable capacity, ``policy.headroom_pct``) bind the first and the second load tier (each eligible host's share of
the cluster's load) measures imbalance on the second. Costs are in one integer unit, ``SCALE`` per unit of
the cluster score:

- usage above usable capacity: ``OVERLOAD_WEIGHT`` per unit of capacity, as :func:`scoring.overload`;
- imbalance: load above a host's share, per unit of capacity over the square root of the host count (the
  cluster score's standard deviation falls by about that much when a host's excess falls by one unit);
- a move: ``policy.min_gain`` times its migration cost (memory and dirty rate over the link, over the mean
  of the movable VMs) over the host count, as :func:`scoring.worth_it` asks of any move, times
  ``policy.cross_domain_cost`` between failure domains;
- soft VM-host rules: ``policy.soft_rule_weight`` per weighted miss.

Hard VM-host rules, pre-flight facts and failure memory become per-VM masks; the one anti-affinity group a
VM belongs to becomes its service (distinct hosts). A VM under any other group rule (affinity, spread,
dependency, soft pairs, a second anti-affinity group) is frozen where construction put it, as is every VM
balancing may not move and every VM that a drain, restore or repair moved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from balancerd.model import Resources
from balancerd.optimize import constraints
from balancerd.optimize import scoring as sc
from balancerd.optimize.balance import cost_ratios, movable_vms
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


def problem(start: ClusterState, end: ClusterState, free: Iterable[str]) -> Problem:
    """The model of ``start`` (the snapshot's state) with ``end`` (construction's) as the start assignment;
    only the VMs in ``free`` may move."""
    hosts = tuple(start.hosts)
    vms = tuple(start.vms)
    index = {name: m for m, name in enumerate(hosts)}
    extras = sorted({n for load in start.hosts.values() for n, _ in load.capacity.extra}
                    | {n for d in start.demand.values() for n, _ in d.cap.extra})
    req = np.array([_row(start.demand[v], extras) for v in vms] + _overheads(start, extras), dtype=np.int64)
    original = np.array([index[start.location[v]] for v in vms] + list(range(len(hosts))), dtype=np.int64)
    at = np.array([index[end.location[v]] for v in vms] + list(range(len(hosts))), dtype=np.int64)
    movable = set(free)
    services, frozen = _services(start, vms, movable)
    frozen_all = np.concatenate([frozen, np.ones(len(hosts), dtype=bool)])
    model = _model(start, hosts, extras, req, services, frozen_all)
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


def _services(state: ClusterState, vms: tuple[str, ...], movable: set[str]) -> tuple[IntArray, BoolArray]:
    """A service per VM (its one anti-affinity group, else its own) and which VMs are frozen."""
    group_ids: dict[tuple[str, str], int] = {}
    services = np.zeros(len(vms), dtype=np.int64)
    frozen = np.zeros(len(vms), dtype=bool)
    for p, name in enumerate(vms):
        group = _one_anti_affinity(state, name)
        label = ("vm", name) if group is None else ("group", group)
        services[p] = group_ids.setdefault(label, len(group_ids))
        frozen[p] = name not in movable or not _engine_can_move(state, name)
    return services, frozen


def _one_anti_affinity(state: ClusterState, vm: str) -> str | None:
    """The VM's anti-affinity group when that is the only group it belongs to."""
    groups = state.rules.groups.get(vm, [])
    return groups[0].name if len(groups) == 1 and groups[0].kind == "anti_affinity" else None


def _engine_can_move(state: ClusterState, vm: str) -> bool:
    """Whether the model carries every group rule of the VM: none, or one anti-affinity group (its service)."""
    no_group = not state.rules.groups.get(vm)
    return (no_group or _one_anti_affinity(state, vm) is not None) and vm not in state.rules.soft_groups


def _model(state: ClusterState, hosts: tuple[str, ...], extras: list[str], req: IntArray, services: IntArray,
           frozen: BoolArray) -> Model:
    loads = [state.hosts[h] for h in hosts]
    cap = np.array([_capacity(load.capacity, extras) for load in loads], dtype=np.int64)
    safety = np.array([_capacity(load.usable, extras) for load in loads], dtype=np.int64)
    n_res = cap.shape[1]
    eligible = np.array([load.eligible for load in loads], dtype=bool)
    n_hosts = max(1, int(eligible.sum()))
    unit = _unit(cap, eligible)
    weight_load = np.where(_is_balance(n_res), 0, np.round(sc.OVERLOAD_WEIGHT * SCALE * unit)).astype(np.int64)
    weight_level = np.where(_is_balance(n_res), np.round(SCALE * unit / math.sqrt(n_hosts)), 0).astype(np.int64)
    areas, distance = _areas(state, hosts)
    n_services = int(services.max(initial=-1)) + 1 + len(hosts)
    all_services = np.concatenate([services, np.arange(n_services - len(hosts), n_services)])
    return Model(
        transient=np.zeros(n_res, dtype=bool), weight_load=weight_load, neighborhood=np.zeros(len(hosts), np.int64),
        location=np.zeros(len(hosts), np.int64), capacity=cap, safety=safety, machine_move_cost=distance,
        spread_min=np.zeros(n_services, np.int64), dependencies=tuple(() for _ in range(n_services)),
        service=all_services, requirement=req, process_move_cost=_move_costs(state, len(hosts), n_hosts),
        balance_r1=np.zeros(0, np.int64), balance_r2=np.zeros(0, np.int64), balance_target=np.zeros(0, np.int64),
        balance_weight=np.zeros(0, np.int64), weight_process_move=1, weight_service_move=0, weight_machine_move=1,
        level=_level(req, cap, eligible), weight_level=weight_level, open_host=eligible, frozen=frozen,
        only=_masks(state, hosts, frozen), place_cost=_place_costs(state, hosts, frozen),
        max_moves=state.policy.max_moves_per_cycle, move_area=areas)


def _capacity(res: Resources, extras: list[str]) -> list[int]:
    return [res.cpu_m, res.mem_mib, _UNBOUNDED, _UNBOUNDED, *(res.amount(n) for n in extras)]


def _is_balance(n_res: int) -> BoolArray:
    column = np.zeros(n_res, dtype=bool)
    column[2:4] = True
    return column


def _unit(cap: IntArray, eligible: BoolArray) -> NDFloat:
    """1 / the mean capacity of eligible hosts per resource (the balance columns take CPU's and memory's)."""
    rows = cap[eligible] if eligible.any() else cap
    mean = rows.mean(axis=0).astype(np.float64) if rows.shape[0] else np.ones(cap.shape[1])
    mean[2:4] = mean[0:2]
    out: NDFloat = np.where(mean > 0, 1.0 / np.maximum(mean, 1.0), 0.0)
    return out


def _level(req: IntArray, cap: IntArray, eligible: BoolArray) -> IntArray:
    """Each eligible host's share of the balance load (the cluster's fraction of its capacity); none elsewhere."""
    level = np.full(cap.shape, _UNBOUNDED, dtype=np.int64)
    if not eligible.any():
        return level
    for r in (2, 3):
        real = cap[eligible, r - 2].astype(np.float64)
        share = float(req[:, r].sum()) / max(float(real.sum()), 1.0)
        level[eligible, r] = np.floor(share * real).astype(np.int64)
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
