"""Large-neighbourhood step: CP-SAT re-assigns every movable process of a few machines among them.

Called by :mod:`balancerd.optimize.engine.search`. The sub-model is exact for the chosen machines: capacity,
transient usage, conflict (in services whose processes run apart), spread and dependency (with what lies outside
the neighbourhood as constants), where each process may run (masks), the move budgets (count and size), load
(both tiers) and balance cost of the chosen machines, placement costs, process / machine move costs and the
service move cost (a max over services). The solution is applied through :func:`try_moves`, which re-checks it
against the state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from balancerd.optimize.engine.model import BoolArray, IntArray
from balancerd.optimize.engine.moves import try_moves
from balancerd.optimize.engine.state import State

Term = Any  # an int constant or a CP-SAT boolean / linear expression


@dataclass
class _Sub:
    """One sub-model under construction."""

    st: State
    machines: IntArray
    procs: IntArray
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    x: dict[tuple[int, int], Any] = field(default_factory=dict)  # (process, machine slot) -> BoolVar
    here_cache: dict[tuple[str, int, int], Term] = field(default_factory=dict)
    objective: list[Any] = field(default_factory=list)
    fixed: IntArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))  # [slot, R] usage of others
    usage: list[list[Any]] = field(default_factory=list)  # [slot][R] usage by the sub-model's processes (or None)


def reassign(
    st: State, machines: IntArray, seconds: float, seed: int, procs: IntArray | None = None,
    deterministic: bool = False,
) -> tuple[bool, bool]:
    """Re-optimise ``procs`` (default: every process on ``machines``) over ``machines``, the other processes
    staying where they are; returns (improved, proved optimal). With ``deterministic`` the limit is CP-SAT's
    deterministic time (the same answer however loaded the machine is; the wall-clock limit is then ten times
    as long)."""
    if procs is None:
        procs = np.flatnonzero(np.isin(st.assign, machines))
    if st.inst.frozen is not None:
        procs = procs[~st.inst.frozen[procs]]
    if procs.shape[0] == 0:
        return False, True
    sub = _Sub(st, machines, procs, fixed=_fixed_usage(st, machines, procs))
    _variables(sub)
    sub.usage = [[_weighted(sub, j, r) for r in range(st.inst.n_resources)] for j in range(machines.shape[0])]
    _capacity(sub)
    _move_budget(sub)
    _conflict(sub)
    _placement_rules(sub)
    _costs(sub)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 10 * seconds if deterministic else seconds
    if deterministic:
        solver.parameters.max_deterministic_time = seconds
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = 2  # about 1.5 x the neighbourhoods per second on the A set
    status = solver.solve(sub.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False, False
    moves = _moves(sub, solver)
    return (bool(moves) and try_moves(st, moves)), status == cp_model.OPTIMAL


def _fixed_usage(st: State, machines: IntArray, procs: IntArray) -> IntArray:
    """Usage of each chosen machine by the processes that stay out of the sub-model."""
    fixed = st.use[machines].copy()
    slot = {int(m): j for j, m in enumerate(machines)}
    for p in procs:
        fixed[slot[int(st.assign[p])]] -= st.inst.requirement[p]
    return fixed


def _variables(sub: _Sub) -> None:
    st = sub.st
    blocked = {(int(st.inst.service[q]), j) for j, m in enumerate(sub.machines) for q in _others_on(sub, int(m))
               if st.inst.is_distinct(int(st.inst.service[q]))}
    for p in sub.procs:
        row = []
        s = int(st.inst.service[p])
        for j, m in enumerate(sub.machines):
            var = sub.model.new_bool_var(f"x{p}_{m}")
            if (s, j) in blocked or (m != st.assign[p] and not st.inst.placeable(int(p), int(m))):
                sub.model.add(var == 0)
            sub.model.add_hint(var, int(sub.st.assign[p] == m))
            sub.x[int(p), j] = var
            row.append(var)
        sub.model.add_exactly_one(row)


def _move_budget(sub: _Sub) -> None:
    """At most ``max_moves`` processes away from their original machine, and at most ``max_move_size`` of their
    ``move_size``, counting those outside."""
    st, inst = sub.st, sub.st.inst
    away = [(int(p), j) for p in sub.procs for j, m in enumerate(sub.machines) if m != st.orig[p]]
    gone = st.assign[sub.procs] != st.orig[sub.procs]
    if inst.max_moves >= 0:
        inside = int(np.count_nonzero(gone))
        sub.model.add(sum(sub.x[k] for k in away) <= inst.max_moves - (st.n_moved - inside))
    if inst.max_move_size >= 0 and inst.move_size is not None:
        inside_size = int(inst.move_size[sub.procs[gone]].sum())
        sizes = [int(inst.move_size[p]) for p, _ in away]
        sub.model.add(cp_model.LinearExpr.weighted_sum([sub.x[k] for k in away], sizes)
                      <= inst.max_move_size - (st.size_moved - inside_size))


def _others_on(sub: _Sub, m: int) -> IntArray:
    """Processes on m that are not in the sub-model."""
    st = sub.st
    on_m = np.flatnonzero(st.assign == m)
    out: IntArray = np.setdiff1d(on_m, sub.procs, assume_unique=True)
    return out


def _capacity(sub: _Sub) -> None:
    st, inst = sub.st, sub.st.inst
    for j, m in enumerate(sub.machines):
        outside_trans = _outside_transient(sub, int(m))
        home = st.orig[sub.procs] == m  # these count on m wherever they go (transient resources)
        for r in range(inst.n_resources):
            if inst.transient[r]:
                fixed = int(outside_trans[r]) + int(inst.requirement[sub.procs[home], r].sum())
                expr = _weighted(sub, j, r, ~home)
                limit = int(inst.capacity[m, r]) - fixed
            else:
                expr = sub.usage[j][r]
                limit = int(inst.capacity[m, r]) - int(sub.fixed[j, r])
            if expr is not None:
                sub.model.add(expr <= limit)


def _weighted(sub: _Sub, j: int, r: int, keep: BoolArray | None = None) -> Any:
    """sum of requirement x assignment on slot j for resource r (processes in ``keep``); None when empty."""
    req = sub.st.inst.requirement[sub.procs, r]
    use = req != 0 if keep is None else (req != 0) & keep
    idx = np.flatnonzero(use)
    if idx.shape[0] == 0:
        return None
    return cp_model.LinearExpr.weighted_sum([sub.x[int(sub.procs[i]), j] for i in idx], [int(req[i]) for i in idx])


def _outside_transient(sub: _Sub, m: int) -> IntArray:
    """Transient usage on m of processes outside the sub-model (moved away from m, their original machine)."""
    st = sub.st
    req = st.inst.requirement
    on_m = sub.procs[st.assign[sub.procs] == m]
    left_m = sub.procs[(st.orig[sub.procs] == m) & (st.assign[sub.procs] != m)]
    out: IntArray = st.trans[m] - req[on_m].sum(axis=0) - req[left_m].sum(axis=0)
    return out


def _conflict(sub: _Sub) -> None:
    services = sub.st.inst.service[sub.procs]
    for s in np.unique(services):
        group = sub.procs[services == s]
        if group.shape[0] < 2 or not sub.st.inst.is_distinct(int(s)):
            continue
        for j in range(sub.machines.shape[0]):
            sub.model.add_at_most_one(sub.x[int(p), j] for p in group)


def _placement_rules(sub: _Sub) -> None:
    """Spread (locations) and dependency (neighbourhoods) for the services of the sub-model."""
    inst = sub.st.inst
    for s in np.unique(inst.service[sub.procs]):
        _spread(sub, int(s))
        _dependency(sub, int(s))


def _spread(sub: _Sub, s: int) -> None:
    st = sub.st
    sub_locs = np.unique(st.inst.location[sub.machines])
    if st.n_locs[s] - sub_locs.shape[0] >= st.inst.spread_min[s]:
        return
    outside = st.loc_count[s].copy()
    mine = sub.procs[st.inst.service[sub.procs] == s]
    np.subtract.at(outside, st.inst.location[st.assign[mine]], 1)
    fixed = int(np.count_nonzero(outside)) - int(np.count_nonzero(outside[sub_locs]))
    terms = [_here(sub, "loc", s, int(loc), outside) for loc in sub_locs]
    sub.model.add(sum(terms) >= int(st.inst.spread_min[s]) - fixed)


def _dependency(sub: _Sub, s: int) -> None:
    st = sub.st
    if not st.deps[s].shape[0] and not st.rdeps[s].shape[0]:
        return
    for n in np.unique(st.inst.neighborhood[sub.machines]):
        mine = _nb_here(sub, s, int(n))
        for d in st.deps[s]:
            _implies(sub, mine, _nb_here(sub, int(d), int(n)))
        for d in st.rdeps[s]:
            _implies(sub, _nb_here(sub, int(d), int(n)), mine)


def _implies(sub: _Sub, a: Term, b: Term) -> None:
    if isinstance(a, int) and isinstance(b, int):
        return  # both constant: held before (the state is feasible) and cannot change
    sub.model.add(b >= a)


def _nb_here(sub: _Sub, s: int, n: int) -> Term:
    st = sub.st
    outside = st.nb_count[s].copy()
    mine = sub.procs[st.inst.service[sub.procs] == s]
    np.subtract.at(outside, st.inst.neighborhood[st.assign[mine]], 1)
    return _here(sub, "nb", s, n, outside)


def _here(sub: _Sub, kind: str, s: int, area: int, outside: IntArray) -> Term:
    """1 if service s is in the area (location or neighbourhood) in the sub-model's solution."""
    key = (kind, s, area)
    if key in sub.here_cache:
        return sub.here_cache[key]
    inst = sub.st.inst
    areas = inst.location if kind == "loc" else inst.neighborhood
    slots = np.flatnonzero(areas[sub.machines] == area)
    mine = sub.procs[inst.service[sub.procs] == s]
    xs = [sub.x[int(p), int(j)] for p in mine for j in slots]
    term: Term
    if outside[area] > 0:
        term = 1
    elif not xs:
        term = 0
    else:
        term = sub.model.new_bool_var(f"{kind}{s}_{area}")
        sub.model.add_max_equality(term, xs)
    sub.here_cache[key] = term
    return term


def _costs(sub: _Sub) -> None:
    _machine_costs(sub)
    _move_costs(sub)
    _service_move_cost(sub)
    sub.model.minimize(sum(sub.objective))


def _machine_costs(sub: _Sub) -> None:
    inst = sub.st.inst
    total_req = inst.requirement[sub.procs].sum(axis=0)
    for j, m in enumerate(sub.machines):
        use = [_plus(sub.usage[j][r], int(sub.fixed[j, r])) for r in range(inst.n_resources)]
        for r in range(inst.n_resources):
            top = int(total_req[r] + sub.fixed[j, r])
            _tier(sub, f"over{m}_{r}", use[r], top, int(inst.safety[m, r]), inst.load_weight(int(m), r))
            if inst.level is not None:
                _tier(sub, f"level{m}_{r}", use[r], top, int(inst.level[m, r]), inst.level_weight(int(m), r))
        for b in range(inst.balance_r1.shape[0]):
            _balance_term(sub, int(m), b, use)


def _tier(sub: _Sub, name: str, use: Any, top: int, threshold: int, weight: int) -> None:
    """weight x max(0, use - threshold) in the objective (nothing when ``use`` cannot pass the threshold)."""
    if weight and top > threshold:
        over = sub.model.new_int_var(0, top, name)
        sub.model.add(over >= use - threshold)
        sub.objective.append(weight * over)


def _plus(expr: Any, constant: int) -> Any:
    return constant if expr is None else expr + constant


def _balance_term(sub: _Sub, m: int, b: int, use: list[Any]) -> None:
    inst = sub.st.inst
    r1, r2, t = int(inst.balance_r1[b]), int(inst.balance_r2[b]), int(inst.balance_target[b])
    cap = inst.capacity[m]
    bound = t * int(cap[r1]) + int(cap[r2])
    gap = sub.model.new_int_var(0, max(bound, 0), f"bal{m}_{b}")
    sub.model.add(gap >= t * (int(cap[r1]) - use[r1]) - (int(cap[r2]) - use[r2]))
    sub.objective.append(int(inst.balance_weight[b]) * gap)


def _move_costs(sub: _Sub) -> None:
    st, inst = sub.st, sub.st.inst
    for p in sub.procs:
        o = int(st.orig[p])
        place = inst.place_cost.get(int(p))
        moving = inst.move_costs(o, sub.machines) * inst.weight_machine_move
        for j, m in enumerate(sub.machines):
            c = int(moving[j]) + (int(st.pmc_w[p]) if m != o else 0)
            c += int(place[m]) if place is not None else 0
            if c:
                sub.objective.append(c * sub.x[int(p), j])


def _service_move_cost(sub: _Sub) -> None:
    st, inst = sub.st, sub.st.inst
    if not inst.weight_service_move:
        return
    services = inst.service[sub.procs]
    inside = np.unique(services)
    others = st.moved.copy()
    others[inside] = 0
    top = sub.model.new_int_var(int(others.max(initial=0)), inst.n_processes, "max_moved")
    for s in inside:
        mine = sub.procs[services == s]
        fixed = int(st.moved[s]) - int(np.count_nonzero(st.assign[mine] != st.orig[mine]))
        away = [sub.x[int(p), j] for p in mine for j, m in enumerate(sub.machines) if m != st.orig[p]]
        sub.model.add(top >= fixed + sum(away))
    sub.objective.append(inst.weight_service_move * top)


def _moves(sub: _Sub, solver: cp_model.CpSolver) -> list[tuple[int, int]]:
    moves = []
    for p in sub.procs:
        for j, m in enumerate(sub.machines):
            if solver.boolean_value(sub.x[int(p), j]) and sub.st.assign[p] != m:
                moves.append((int(p), int(m)))
    return moves
