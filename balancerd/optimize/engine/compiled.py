"""The engine's annealing moves compiled with numba: a shift or a swap tried, priced and kept or undone in O(R).

Called by :mod:`balancerd.optimize.engine.anneal` only (the one importer of numba). It works on flat copies of the
model (:class:`Fixed`) and of the state's sums (:class:`Live`), built by :func:`fixed_of` and :func:`live_of`, so
the same rules hold as in :class:`~balancerd.optimize.engine.state.State`: capacity and transient usage, services
whose processes run apart, spread, dependencies, masks, frozen processes, move budgets (count and size); the
objective is the engine's (load in two tiers, balance, placement, process / service / machine move costs). A move is
first screened for room on the machines it changes (most random moves on a tight instance fail there, at no further
cost), then applied, priced from the changed sums, checked on the machines and services it touched, and undone when
it is refused: every quantity is an integer, so the undo is exact. Pure: no clock, randomness from the seed passed
in; compiled on first use (about 20 s) and cached beside the module by numba (``cache=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numba
import numpy as np

from balancerd.optimize.engine.model import BoolArray, IntArray, Model
from balancerd.optimize.engine.state import State

F = TypeVar("F", bound=Callable[..., Any])

TOTAL, MAX_MOVED, N_MOVED, SIZE_MOVED, BEST = 0, 1, 2, 3, 4  # slots of Live.counters


def _jit(fn: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True)(fn))



class Fixed(NamedTuple):
    """The model as flat arrays (weights per machine and resource, masks as rows, neutral where unused)."""

    capacity: IntArray
    safety: IntArray
    transient: BoolArray
    weight_load: IntArray  # [M, R]
    level: IntArray  # [M, R]
    weight_level: IntArray  # [M, R]
    balance: IntArray  # [B, 4]: r1, r2, target, weight
    requirement: IntArray
    service: IntArray
    process_move: IntArray  # [P] weighted
    move_cost: IntArray  # [A, A] weighted
    area: IntArray  # [M]
    weight_service_move: int
    location: IntArray
    neighborhood: IntArray
    spread_min: IntArray
    distinct: BoolArray  # [S]
    svc_ptr: IntArray  # processes of each service (CSR)
    svc_idx: IntArray
    dep_ptr: IntArray  # services each service depends on (CSR)
    dep_idx: IntArray
    rdep_ptr: IntArray  # services depending on each service (CSR)
    rdep_idx: IntArray
    open_host: BoolArray  # [M]
    frozen: BoolArray  # [P]
    only_row: IntArray  # [P] row of ``only`` (-1: no mask)
    only: BoolArray  # [K, M]
    place_row: IntArray  # [P] row of ``place`` (-1: no placement cost)
    place: IntArray  # [K, M]
    move_size: IntArray  # [P]
    max_moves: int
    max_move_size: int
    original: IntArray


class Live(NamedTuple):
    """The state's sums, changed in place by the compiled moves; ``counters`` holds the scalars (slots above)."""

    assign: IntArray
    use: IntArray
    trans: IntArray
    mcost: IntArray
    moved: IntArray
    hist: IntArray
    loc_count: IntArray
    n_locs: IntArray
    nb_count: IntArray
    counters: IntArray
    best: IntArray


def _csr(lists: list[list[int]]) -> tuple[IntArray, IntArray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    return ptr, np.array([v for x in lists for v in x], dtype=np.int64)


def _per_machine(weight: IntArray, m: int) -> IntArray:
    return np.ascontiguousarray(np.broadcast_to(weight, (m, weight.shape[-1])), dtype=np.int64)


def _rows(masks: dict[int, Any], p: int, m: int, dtype: type) -> tuple[IntArray, Any]:
    row = np.full(p, -1, dtype=np.int64)
    table: Any = np.zeros((max(len(masks), 1), m), dtype=dtype)
    for k, (proc, mask) in enumerate(sorted(masks.items())):
        row[proc] = k
        table[k] = mask
    return row, table


def fixed_of(inst: Model, original: IntArray) -> Fixed:
    """The model's arrays (and the original assignment) for the compiled moves."""
    n_m, n_p, n_s = inst.n_machines, inst.n_processes, inst.n_services
    deps = [list(d) for d in inst.dependencies]
    rdeps: list[list[int]] = [[] for _ in range(n_s)]
    for s, ds in enumerate(deps):
        for d in ds:
            rdeps[d].append(s)
    by_service: list[list[int]] = [[] for _ in range(n_s)]
    for p, s in enumerate(inst.service.tolist()):
        by_service[s].append(p)
    only_row, only = _rows(dict(inst.only), n_p, n_m, np.bool_)
    place_row, place = _rows(dict(inst.place_cost), n_p, n_m, np.int64)
    no_level = inst.level is None or inst.weight_level is None
    return Fixed(
        inst.capacity, inst.safety, inst.transient, _per_machine(inst.weight_load, n_m),
        inst.capacity if no_level else np.asarray(inst.level, dtype=np.int64),
        np.zeros_like(inst.capacity) if no_level else _per_machine(np.asarray(inst.weight_level), n_m),
        np.stack([inst.balance_r1, inst.balance_r2, inst.balance_target, inst.balance_weight], axis=1)
        .astype(np.int64).reshape(-1, 4),
        inst.requirement, inst.service, inst.process_move_cost * inst.weight_process_move,
        inst.machine_move_cost * inst.weight_machine_move,
        np.arange(n_m, dtype=np.int64) if inst.move_area is None else inst.move_area,
        inst.weight_service_move, inst.location, inst.neighborhood, inst.spread_min,
        np.ones(n_s, dtype=np.bool_) if inst.distinct is None else inst.distinct,
        *_csr(by_service), *_csr(deps), *_csr(rdeps),
        np.ones(n_m, dtype=np.bool_) if inst.open_host is None else inst.open_host,
        np.zeros(n_p, dtype=np.bool_) if inst.frozen is None else inst.frozen,
        only_row, only, place_row, place,
        np.zeros(n_p, dtype=np.int64) if inst.move_size is None else inst.move_size,
        inst.max_moves, inst.max_move_size, original,
    )


def live_of(st: State) -> Live:
    """Copies of a state's sums (the compiled moves change them, never the state)."""
    counters = np.array([st.total, st.max_moved, st.n_moved, st.size_moved, st.total], dtype=np.int64)
    return Live(st.assign.copy(), st.use.copy(), st.trans.copy(), st.mcost.copy(), st.moved.copy(), st.hist.copy(),
                st.loc_count.copy(), st.n_locs.copy(), st.nb_count.copy(), counters, st.assign.copy())


# ----- compiled: pricing and applying one move --------------------------------------------------------------------


@_jit
def _machine_cost(f: Fixed, lv: Live, m: int) -> int:
    c = 0
    for r in range(lv.use.shape[1]):
        u = lv.use[m, r]
        if u > f.safety[m, r]:
            c += (u - f.safety[m, r]) * f.weight_load[m, r]
        if u > f.level[m, r]:
            c += (u - f.level[m, r]) * f.weight_level[m, r]
    for k in range(f.balance.shape[0]):
        r1, r2 = f.balance[k, 0], f.balance[k, 1]
        gap = f.balance[k, 2] * (f.capacity[m, r1] - lv.use[m, r1]) - (f.capacity[m, r2] - lv.use[m, r2])
        if gap > 0:
            c += gap * f.balance[k, 3]
    return c


@_jit
def _set_moved(f: Fixed, lv: Live, s: int, step: int) -> int:
    """Change service s's moved count; returns the change of the service move cost."""
    before = lv.counters[MAX_MOVED]
    k = lv.moved[s]
    lv.hist[k] -= 1
    lv.hist[k + step] += 1
    lv.moved[s] = k + step
    top = max(before, k + step)
    while top > 0 and lv.hist[top] == 0:
        top -= 1
    lv.counters[MAX_MOVED] = top
    return int((top - before) * f.weight_service_move)


@_jit
def _move_terms(f: Fixed, lv: Live, p: int, a: int, b: int) -> int:
    """Move and placement cost change of p going from a to b (counters updated)."""
    o = f.original[p]
    change = f.move_cost[f.area[o], f.area[b]] - f.move_cost[f.area[o], f.area[a]]
    if f.place_row[p] >= 0:
        change += f.place[f.place_row[p], b] - f.place[f.place_row[p], a]
    if a == o:
        change += f.process_move[p] + _set_moved(f, lv, f.service[p], 1)
        lv.counters[N_MOVED] += 1
        lv.counters[SIZE_MOVED] += f.move_size[p]
    elif b == o:
        change += _set_moved(f, lv, f.service[p], -1) - f.process_move[p]
        lv.counters[N_MOVED] -= 1
        lv.counters[SIZE_MOVED] -= f.move_size[p]
    return int(change)


@_jit
def _apply(f: Fixed, lv: Live, p: int, b: int) -> None:
    """Move p to b without any check, keeping every sum and the total exact."""
    a = lv.assign[p]
    o = f.original[p]
    for r in range(lv.use.shape[1]):
        lv.use[a, r] -= f.requirement[p, r]
        lv.use[b, r] += f.requirement[p, r]
        if a != o:
            lv.trans[a, r] -= f.requirement[p, r]
        if b != o:
            lv.trans[b, r] += f.requirement[p, r]
    cost_a, cost_b = _machine_cost(f, lv, a), _machine_cost(f, lv, b)
    change = cost_a + cost_b - lv.mcost[a] - lv.mcost[b] + _move_terms(f, lv, p, a, b)
    lv.mcost[a], lv.mcost[b] = cost_a, cost_b
    s = f.service[p]
    la, lb = f.location[a], f.location[b]
    if la != lb:
        lv.loc_count[s, la] -= 1
        lv.loc_count[s, lb] += 1
        lv.n_locs[s] += int(lv.loc_count[s, lb] == 1) - int(lv.loc_count[s, la] == 0)
    lv.nb_count[s, f.neighborhood[a]] -= 1
    lv.nb_count[s, f.neighborhood[b]] += 1
    lv.assign[p] = b
    lv.counters[TOTAL] += change


# ----- compiled: checks after a move ------------------------------------------------------------------------------


@_jit
def _fits(f: Fixed, lv: Live, m: int) -> bool:
    for r in range(lv.use.shape[1]):
        if (lv.trans[m, r] if f.transient[r] else lv.use[m, r]) > f.capacity[m, r]:
            return False
    return True


@_jit
def _placeable(f: Fixed, lv: Live, p: int) -> bool:
    """Whether p may run where it now is as far as masks go (its original machine too: a move back onto a host
    being drained is refused, as the state's shift masks and the neighbourhoods refuse it)."""
    m = lv.assign[p]
    if f.frozen[p]:
        return False
    return bool(f.open_host[m] and (f.only_row[p] < 0 or f.only[f.only_row[p], m]))


@_jit
def _service_ok(f: Fixed, lv: Live, s: int, m: int, n: int) -> bool:
    """Service s after a move onto machine m (conflict) and through neighbourhood n (dependencies); spread."""
    if f.distinct[s]:
        here = 0
        for i in range(f.svc_ptr[s], f.svc_ptr[s + 1]):
            here += lv.assign[f.svc_idx[i]] == m
        if here > 1:
            return False
    if lv.n_locs[s] < f.spread_min[s]:
        return False
    if lv.nb_count[s, n] > 0:
        for i in range(f.dep_ptr[s], f.dep_ptr[s + 1]):
            if lv.nb_count[f.dep_idx[i], n] == 0:
                return False
        return True
    for i in range(f.rdep_ptr[s], f.rdep_ptr[s + 1]):
        if lv.nb_count[f.rdep_idx[i], n] > 0:
            return False
    return True


@_jit
def _budget_ok(f: Fixed, lv: Live) -> bool:
    if 0 <= f.max_moves < lv.counters[N_MOVED]:
        return False
    return not (0 <= f.max_move_size < lv.counters[SIZE_MOVED])


@_jit
def _moved_ok(f: Fixed, lv: Live, p: int, a: int) -> bool:
    """p, now on its new machine, came from a: its placement and its service on both sides."""
    b = lv.assign[p]
    s = f.service[p]
    return (_placeable(f, lv, p) and _service_ok(f, lv, s, b, f.neighborhood[a])
            and _service_ok(f, lv, s, b, f.neighborhood[b]))


# ----- compiled: trying moves -------------------------------------------------------------------------------------


@_jit
def _accept(change: int, temperature: float) -> bool:
    return change <= 0 or (temperature > 0 and np.random.random() < np.exp(-change / temperature))


@_jit
def _room(f: Fixed, lv: Live, m: int, p: int, q: int) -> bool:
    """Whether machine m has room for p arriving and q (-1: none) leaving, before anything is applied."""
    for r in range(lv.use.shape[1]):
        change = f.requirement[p, r] - (f.requirement[q, r] if q >= 0 else 0)
        if f.transient[r]:
            change = (f.requirement[p, r] if f.original[p] != m else 0) - (
                f.requirement[q, r] if q >= 0 and f.original[q] != m else 0)
            if lv.trans[m, r] + change > f.capacity[m, r]:
                return False
        elif lv.use[m, r] + change > f.capacity[m, r]:
            return False
    return True


@_jit
def _apart(f: Fixed, lv: Live, s: int, m: int) -> bool:
    """Whether no process of service s runs on m, or s need not run apart."""
    if f.distinct[s]:
        for i in range(f.svc_ptr[s], f.svc_ptr[s + 1]):
            if lv.assign[f.svc_idx[i]] == m:
                return False
    return True


@_jit
def try_shift(f: Fixed, lv: Live, p: int, b: int, temperature: float) -> bool:
    """Move p to b if that keeps every rule and the change passes the Metropolis test at ``temperature``."""
    a = lv.assign[p]
    if a == b or f.frozen[p] or not (_room(f, lv, b, p, -1) and _apart(f, lv, f.service[p], b)):
        return False
    before = lv.counters[TOTAL]
    _apply(f, lv, p, b)
    ok = (_fits(f, lv, b) and _budget_ok(f, lv) and _moved_ok(f, lv, p, a)
          and _accept(lv.counters[TOTAL] - before, temperature))
    if not ok:
        _apply(f, lv, p, a)
    return ok


@_jit
def try_swap(f: Fixed, lv: Live, p: int, q: int, temperature: float) -> bool:
    """Exchange the machines of p and q under the same rules as :func:`try_shift`."""
    a, b = lv.assign[p], lv.assign[q]
    if a == b or f.service[p] == f.service[q] or f.frozen[p] or f.frozen[q]:
        return False
    if not (_room(f, lv, b, p, q) and _room(f, lv, a, q, p)):
        return False
    before = lv.counters[TOTAL]
    _apply(f, lv, p, b)
    _apply(f, lv, q, a)
    ok = (_fits(f, lv, a) and _fits(f, lv, b) and _budget_ok(f, lv) and _moved_ok(f, lv, p, a)
          and _moved_ok(f, lv, q, b) and _accept(lv.counters[TOTAL] - before, temperature))
    if not ok:
        _apply(f, lv, q, b)
        _apply(f, lv, p, a)
    return ok


@_jit
def price(f: Fixed, lv: Live, p: int, b: int) -> tuple[bool, int]:
    """(whether moving p to b keeps every rule, change of the objective); the state is left as it was."""
    a = lv.assign[p]
    if a == b:
        return False, 0
    before = lv.counters[TOTAL]
    _apply(f, lv, p, b)
    ok = _fits(f, lv, b) and _budget_ok(f, lv) and _moved_ok(f, lv, p, a)
    change = lv.counters[TOTAL] - before
    _apply(f, lv, p, a)
    return ok, change


@_jit
def anneal(f: Fixed, lv: Live, steps: int, t_from: float, t_to: float, seed: int, swap_share: float) -> int:
    """``steps`` Metropolis steps (a random shift, or a swap with a random partner) cooling geometrically from
    ``t_from`` to ``t_to``; the best assignment seen (checked every 256 steps) is kept in ``lv.best``. Returns
    the number of moves kept."""
    np.random.seed(seed)
    n_p, n_m = lv.assign.shape[0], lv.use.shape[0]
    kept = 0
    for step in range(steps):
        temperature = t_from * (t_to / t_from) ** (step / steps)
        p = np.random.randint(n_p)
        if np.random.random() < swap_share:
            kept += try_swap(f, lv, p, np.random.randint(n_p), temperature)
        else:
            kept += try_shift(f, lv, p, np.random.randint(n_m), temperature)
        if step % 256 == 0 and lv.counters[TOTAL] < lv.counters[BEST]:
            lv.counters[BEST] = lv.counters[TOTAL]
            lv.best[:] = lv.assign
    if lv.counters[TOTAL] < lv.counters[BEST]:
        lv.counters[BEST] = lv.counters[TOTAL]
        lv.best[:] = lv.assign
    return kept
