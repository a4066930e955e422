"""The budgeted linear relaxation behind the plan's lower bound: imbalance and overload together.

Called by :func:`balancerd.optimize.bounds.lower_bound`. Pure: it builds a linear programme from the working
state and solves it with HiGHS (``scipy.optimize.linprog``), deterministic and silent.

Relaxed, a plan is a flow of load: each host h sends out load ``out[t, r]`` (t: the balance load that sets
utilisation, and the capacity load that sets the penalty; r: CPU, memory) and eligible hosts take it in,
with in = out in total per (t, r). Host h spends ``b[h]`` of the move budget (sum of b <= budget); with its
candidate VMs sorted by demand d_1 >= d_2 >= ..., a fractional move of b VMs sends at most F(b) = d_1 + ... +
d_floor(b) + frac(b) d_next (concave, so ``out <= F(b)`` is a set of linear cuts). Every plan of at most
``budget`` candidate VMs is such a flow (its VMs' demands, whole), so the programme's optimum bounds it.

Utilisation u[h] = max over r of load / capacity after the flow, which is not linear; the relaxation keeps
what is true of it: u[h] >= each ratio after the flow, u[h] <= u0[h] + sum_r in[r] / capacity[r], and
u[h] >= u0[h] - sum_r out[r] / capacity[r]. The imbalance is the norm of u's deviation from its mean over
sqrt(n); for the unit vector w of today's deviation, imbalance >= w . u / sqrt(n) (w sums to 0, so a shift
of the mean does not change it). The programme minimises w . u / sqrt(n) + the overload penalty of the flow
(excess e >= load - usable, priced OVERLOAD_WEIGHT / capacity), so its optimum bounds imbalance + penalty of
every plan within the budget. Placement rules, fit and integrality are relaxed away.

It is not solved (``-inf``: no bound from it) when the budget covers every candidate (no budget to relax:
the budget-free bounds of :mod:`balancerd.optimize.bounds` apply) or when the programme would be larger
than ``_MAX_CUTS`` (thousands of hosts with a large budget: it would cost seconds per plan); the plan's
bound is then the separate one of :mod:`~balancerd.optimize.bounds`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from scipy.sparse import coo_array

from balancerd.optimize import scoring as sc
from balancerd.optimize.state import ClusterState, HostLoad

_FLOWS = (("bal", 0), ("bal", 1), ("cap", 0), ("cap", 1))
"""The four flows of a host: (load kind, resource 0 = CPU / 1 = memory)."""
_WIDTH = 12
"""Variables per host: b, out x 4, in x 4, u, excess x 2."""
_B, _OUT, _IN, _U, _E = 0, 1, 5, 9, 10
_ROUNDS = 4
"""Directions tried at most (each a linear programme of the same constraints)."""
_MAX_CUTS = 100_000
"""Above hosts x min(budget, candidates) (the size of the programme) the relaxation is not solved."""


@dataclass(slots=True)
class _Programme:
    """The linear programme under construction: sparse rows of ``A_ub x <= b_ub`` and of ``A_eq x = b_eq``."""

    size: int
    cost: np.ndarray
    upper: np.ndarray
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    rhs: list[float] = field(default_factory=list)

    def row(self, terms: list[tuple[int, float]], bound: float) -> None:
        """Add ``sum coef * x[col] <= bound``."""
        index = len(self.rhs)
        for col, coef in terms:
            self.rows.append(index)
            self.cols.append(col)
            self.vals.append(coef)
        self.rhs.append(bound)

    def matrix(self) -> coo_array:
        return coo_array((self.vals, (self.rows, self.cols)), shape=(len(self.rhs), self.size))


def budgeted_bound(state: ClusterState, candidates: set[str], budget: int) -> float:
    """A lower bound on imbalance + overload penalty of every plan moving at most ``budget`` candidates.

    Every unit direction gives a valid bound; the first is today's deviation, each next one the deviation
    of the previous optimum's utilisations (a few rounds of this ascent on the best direction), best kept.
    """
    hosts = list(state.hosts.values())
    if state.count == 0 or budget <= 0 or not candidates:
        return state.imbalance() + state.penalty
    if budget >= len(candidates) or len(hosts) * min(budget, len(candidates)) > _MAX_CUTS:
        return -math.inf
    prog = _programme(state, hosts, candidates, budget)
    equal = _balance_rows(len(hosts))
    utils = np.array([h.util for h in hosts])
    best = -math.inf
    for _ in range(_ROUNDS):
        weights = _direction(utils, hosts)
        prog.cost[_U::_WIDTH] = weights / math.sqrt(state.count)
        value, solution = _solve(prog, equal)
        if solution is None or not weights.any() or value <= best + 1e-9:
            best = max(best, value)
            break
        best = value
        utils = solution[_U::_WIDTH]
    return best


def _programme(state: ClusterState, hosts: list[HostLoad], candidates: set[str], budget: int) -> _Programme:
    """The constraints and the overload part of the objective (the direction is set per round)."""
    size = len(hosts) * _WIDTH
    prog = _Programme(size, np.zeros(size), np.full(size, np.inf))
    residents = _residents(state, candidates)
    for i, host in enumerate(hosts):
        _host_rows(prog, i * _WIDTH, host, residents.get(host.name, []), state, budget)
        if host.eligible:
            for r, cap in enumerate((host.capacity.cpu_m, host.capacity.mem_mib)):
                prog.cost[i * _WIDTH + _E + r] = sc.OVERLOAD_WEIGHT / cap if cap > 0 else sc.OVERLOAD_WEIGHT
    prog.row([(i * _WIDTH + _B, 1.0) for i in range(len(hosts))], float(budget))
    return prog


def _direction(utils: np.ndarray, hosts: list[HostLoad]) -> np.ndarray:
    """The unit vector of the deviation of ``utils`` from their mean over eligible hosts (0 elsewhere, and
    all 0 when they are level)."""
    eligible = np.array([h.eligible for h in hosts], dtype=np.bool_)
    deviation = np.where(eligible, utils - utils[eligible].mean(), 0.0)
    norm = float(np.linalg.norm(deviation))
    return deviation / norm if norm > 1e-12 else np.zeros_like(deviation)


def _residents(state: ClusterState, candidates: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in candidates:
        found.setdefault(state.location[name], []).append(name)
    return found


def _host_rows(prog: _Programme, base: int, host: HostLoad, residents: list[str], state: ClusterState,
               budget: int) -> None:
    """Bounds and cuts of one host's variables."""
    prog.upper[base + _B] = float(min(len(residents), budget))
    for k, (kind, r) in enumerate(_FLOWS):
        demands = sorted((_demand(state, name, kind, r) for name in residents), reverse=True)[:budget]
        prog.upper[base + _OUT + k] = float(sum(demands))
        _cuts(prog, base + _OUT + k, base + _B, demands)
        if not host.eligible:
            prog.upper[base + _IN + k] = 0.0
    if host.eligible:
        _utilisation_rows(prog, base, host)
        _excess_rows(prog, base, host)
    else:
        prog.upper[base + _U] = prog.upper[base + _E] = prog.upper[base + _E + 1] = 0.0


def _demand(state: ClusterState, name: str, kind: str, r: int) -> float:
    demand = state.demand[name].bal if kind == "bal" else state.demand[name].cap
    return float(demand.cpu_m if r == 0 else demand.mem_mib)


def _cuts(prog: _Programme, out: int, b: int, demands: list[float]) -> None:
    """``out <= F(b)``: one cut per segment of the concave piecewise-linear F."""
    prefix = 0.0
    for k, slope in enumerate(demands):
        prog.row([(out, 1.0), (b, -slope)], prefix - slope * k)
        prefix += slope


def _utilisation_rows(prog: _Programme, base: int, host: HostLoad) -> None:
    loads = (host.bal_cpu, host.bal_mem)
    inv = [1.0 / cap if cap > 0 else 1.0 for cap in (host.capacity.cpu_m, host.capacity.mem_mib)]
    for r in (0, 1):
        prog.row([(base + _U, -1.0), (base + _OUT + r, -inv[r]), (base + _IN + r, inv[r])], -loads[r] * inv[r])
    prog.row([(base + _U, 1.0), (base + _IN, -inv[0]), (base + _IN + 1, -inv[1])], host.util)
    prog.row([(base + _U, -1.0), (base + _OUT, -inv[0]), (base + _OUT + 1, -inv[1])], -host.util)


def _excess_rows(prog: _Programme, base: int, host: HostLoad) -> None:
    loads = (host.cap_cpu, host.cap_mem)
    usable = (host.usable_cpu, host.usable_mem)
    for r in (0, 1):
        prog.row([(base + _OUT + 2 + r, -1.0), (base + _IN + 2 + r, 1.0), (base + _E + r, -1.0)],
                 float(usable[r] - loads[r]))


def _balance_rows(count: int) -> coo_array:
    """Per flow, in = out over all hosts."""
    rows, cols, vals = [], [], []
    for k in range(len(_FLOWS)):
        for i in range(count):
            rows += [k, k]
            cols += [i * _WIDTH + _IN + k, i * _WIDTH + _OUT + k]
            vals += [1.0, -1.0]
    return coo_array((vals, (rows, cols)), shape=(len(_FLOWS), count * _WIDTH))


def _solve(prog: _Programme, equal: coo_array) -> tuple[float, np.ndarray | None]:
    """The optimum, less a margin for the solver's tolerances, and the solution; -inf and None when HiGHS
    reports no optimum."""
    from scipy.optimize import linprog  # 0.4 s to import: only plans that solve a programme pay it

    bounds = np.column_stack([np.zeros(prog.size), prog.upper])
    # scipy-stubs type the matrices as dense arrays and the bounds as tuples; HiGHS takes sparse ones
    result = linprog(prog.cost, A_ub=cast(Any, prog.matrix().tocsr()), b_ub=np.array(prog.rhs),
                     A_eq=cast(Any, equal.tocsr()), b_eq=np.zeros(len(_FLOWS)), bounds=cast(Any, bounds),
                     method="highs")
    if result.status != 0 or result.fun is None:
        return -math.inf, None
    value = float(result.fun)
    return value - 1e-7 * (1.0 + abs(value)), np.asarray(result.x)
