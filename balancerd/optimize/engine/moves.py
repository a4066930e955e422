"""Improving moves on a :class:`State` - best shift, screened swaps, tentative compound moves.

Called by :mod:`balancerd.optimize.engine.search`. Shifts are evaluated exactly for every machine at once;
swaps are screened with numpy over many partner processes (capacity, load / balance / move costs) and the
few most promising are then tried exactly with :func:`try_moves`.
"""

from __future__ import annotations

import numpy as np

from balancerd.optimize.engine.costs import machine_costs
from balancerd.optimize.engine.model import BoolArray, IntArray
from balancerd.optimize.engine.state import State


def best_shift(st: State, p: int) -> tuple[int, int]:
    """(machine, delta) of the best feasible shift of p; delta 0 and machine -1 when none improves."""
    targets = st.shift_targets(p)
    if targets.shape[0] == 0:
        return -1, 0
    deltas = st.shift_deltas(p, targets)
    i = int(np.argmin(deltas))
    if deltas[i] >= 0:
        return -1, 0
    return int(targets[i]), int(deltas[i])


def try_moves(st: State, moves: list[tuple[int, int]], slack: int = 0) -> bool:
    """Apply ``moves`` (process, machine); keep them if feasible and the total drops by more than -slack."""
    before = st.total
    undo = [(p, int(st.assign[p])) for p, _ in moves]
    machines = {m for _, m in moves} | {m for _, m in undo}
    for p, m in moves:
        st.move(p, m)
    if st.total - before < slack and st.locally_feasible([p for p, _ in moves], sorted(machines)):
        return True
    for p, m in reversed(undo):
        st.move(p, m)
    return False


def swap_deltas(st: State, p: int, partners: IntArray) -> tuple[IntArray, IntArray]:
    """Screen swaps of p with each partner: (partners kept, estimated deltas without the service move cost)."""
    inst = st.inst
    a = int(st.assign[p])
    b = st.assign[partners]
    keep = (b != a) & (inst.service[partners] != inst.service[p])
    if inst.frozen is not None:
        keep &= ~inst.frozen[partners]
    partners, b = partners[keep], b[keep]
    rp, rq = inst.requirement[p], inst.requirement[partners]
    new_a = st.use[a] + rq - rp
    new_b = st.use[b] - rq + rp
    fits = _fits(st, p, partners, a, b)
    partners, b, new_a, new_b = partners[fits], b[fits], new_a[fits], new_b[fits]
    a_rows = np.full(partners.shape[0], a, dtype=np.int64)
    delta = machine_costs(inst, new_a, a_rows) - st.mcost[a] + machine_costs(inst, new_b, b) - st.mcost[b]
    delta += _moved_terms(st, np.full_like(b, p), a_rows, b) + _moved_terms(st, partners, b, a_rows)
    return partners, delta


def _fits(st: State, p: int, partners: IntArray, a: int, b: IntArray) -> BoolArray:
    """Capacity and transient usage after swapping p (on a) with each partner (on b)."""
    inst = st.inst
    tm = st.tmask
    rp, rq = inst.requirement[p], inst.requirement[partners]
    op, oq = int(st.orig[p]), st.orig[partners]
    counted_q_at_a = np.where(tm[None, :], (oq != a)[:, None], True)
    counted_p_at_b = np.where(tm[None, :], (b != op)[:, None], True)
    counted_q_at_b = np.where(tm[None, :], (b != oq)[:, None], True)
    free_a = st.free[a] + rp * np.where(tm, a != op, True) - rq * counted_q_at_a
    free_b = st.free[b] + rq * counted_q_at_b - rp * counted_p_at_b
    fits: BoolArray = (free_a >= 0).all(axis=1) & (free_b >= 0).all(axis=1)
    return fits


def _moved_terms(st: State, procs: IntArray, src: IntArray, dst: IntArray) -> IntArray:
    inst = st.inst
    o = st.orig[procs]
    mmc = inst.move_costs(o, dst) - inst.move_costs(o, src)
    moved = (dst != o).astype(np.int64) - (src != o).astype(np.int64)
    out: IntArray = mmc * inst.weight_machine_move + moved * st.pmc_w[procs]
    return out


def best_swap(st: State, p: int, partners: IntArray, tries: int = 3) -> bool:
    """Try the most promising swaps of p with ``partners``; True when one was applied."""
    if st.inst.is_frozen(p):
        return False
    cands, delta = swap_deltas(st, p, partners)
    good = np.flatnonzero(delta < 0)
    if good.shape[0] == 0:
        return False
    order = good[np.argsort(delta[good], kind="stable")[:tries]]
    a = int(st.assign[p])
    return any(try_moves(st, [(p, int(st.assign[q])), (int(q), a)]) for q in cands[order])
