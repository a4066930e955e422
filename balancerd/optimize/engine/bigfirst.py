"""The "big processes first" start - descents over a growing share of the processes, largest first.

Called by :mod:`balancerd.optimize.engine.search` as the alternative to annealing for the first phase (the
second worker of :mod:`balancerd.roadef.portfolio` runs it). Processes are ranked by total requirement;
the sweep lets only the largest 5 % move, then 4 % more at each step, so the big processes are placed while
the machines still have room and the small ones fill the gaps later. Each step tries ejection moves (a big
process goes to a machine, whose processes then move to their best machines to make room for it, the whole
kept only if the total drops) and then descends with shifts and swaps among the processes admitted so far.
On a2_2 (transient resources bound what each machine can take in) one sweep reached 0.97e9-0.98e9 in about
30 s, and CP-SAT neighbourhoods from there 0.86e9-0.90e9 at 150 s, where the annealing start ends near 1.0e9 at
300 s; on a2_3 the annealing start does better (1.33e9 against 1.49e9), hence the two workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from balancerd.optimize.engine.model import IntArray, Model
from balancerd.optimize.engine.moves import best_shift, best_swap
from balancerd.optimize.engine.state import State


@dataclass(frozen=True)
class SweepParams:
    """Knobs of the sweep (shares in processes per thousand, as in the challenge winner's description)."""

    first_permille: int = 50  # share of the processes admitted at the first step
    step_permille: int = 40  # share admitted at each further step
    ejections: int = 30  # ejection moves tried per step
    machines_tried: int = 100  # target machines tried per ejection move
    swap_partners: int = 2000  # partners per swap attempt (drawn from the admitted processes)


def size_order(inst: Model) -> IntArray:
    """Processes by total requirement, largest first (ties in index order)."""
    order: IntArray = np.argsort(-inst.requirement.sum(axis=1), kind="stable")
    return order


def eject(st: State, p: int, rng: np.random.Generator, machines_tried: int) -> bool:
    """Move p to the first machine (in random order) where making room pays: p goes there regardless of
    capacity, the machine's other processes take their best improving shifts, then, if the total dropped, the
    rest leave for their least bad machine until p fits. Undone unless feasible and better; True when kept."""
    candidates = np.flatnonzero(st.allowed(p))
    rng.shuffle(candidates)
    return any(_eject_to(st, p, int(m)) for m in candidates[:machines_tried])


def _eject_to(st: State, p: int, m: int) -> bool:
    before = st.total
    residents = np.flatnonzero(st.assign == m)
    undo = [(p, int(st.assign[p]))]
    st.move(p, m)
    for q in residents:
        target, _ = best_shift(st, int(q))
        if target >= 0:
            undo.append((int(q), m))
            st.move(int(q), target)
    if st.total < before:
        _make_room(st, m, residents, undo)
    if st.total < before and bool((st.free[m] >= 0).all()) and st.locally_feasible([p], [m]):
        return True
    for q_back, machine in reversed(undo):
        st.move(q_back, machine)
    return False


def _make_room(st: State, m: int, residents: IntArray, undo: list[tuple[int, int]]) -> None:
    """Shift processes still on m to their least bad feasible machine until m is within capacity."""
    for q in residents:
        if bool((st.free[m] >= 0).all()):
            return
        if int(st.assign[q]) != m:
            continue
        targets = st.shift_targets(int(q))
        if targets.shape[0]:
            undo.append((int(q), m))
            st.move(int(q), int(targets[int(np.argmin(st.shift_deltas(int(q), targets)))]))


def descend(st: State, procs: IntArray, rng: np.random.Generator, expired: Callable[[], bool], partners: int) -> None:
    """Best shifts, then screened swaps with partners among ``procs``, until a round improves nothing."""
    improved = True
    while improved and not expired():
        improved = False
        for count, p in enumerate(rng.permutation(procs)):
            if count % 16 == 0 and expired():
                return
            target, _ = best_shift(st, int(p))
            if target >= 0:
                st.move(int(p), target)
                improved = True
        for count, p in enumerate(rng.permutation(procs)):
            if count % 16 == 0 and expired():
                return
            pool = procs if procs.shape[0] <= partners else rng.choice(procs, size=partners)
            improved |= best_swap(st, int(p), pool)


def sweep(st: State, rng: np.random.Generator, expired: Callable[[], bool], params: SweepParams) -> None:
    """One pass of growing prefixes of :func:`size_order` until all processes are admitted (or time is up)."""
    order = size_order(st.inst)
    n = order.shape[0]
    end = max(1, n * params.first_permille // 1000)
    step = max(1, n * params.step_permille // 1000)
    while not expired():
        admitted = order[:end]
        for _ in range(params.ejections):
            if expired():
                return
            eject(st, int(rng.choice(admitted)), rng, params.machines_tried)
        descend(st, admitted, rng, expired, params.swap_partners)
        if end == n:
            return
        end = min(n, end + step)
