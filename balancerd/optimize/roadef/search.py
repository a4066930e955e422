"""ROADEF 2012: the solver - local search (shift, swap) with perturbation and restarts from the best, to a deadline.

Called by :mod:`balancerd.bench.roadef` and the benchmarks through :func:`solve`. The search never leaves the
feasible region: it starts from the original assignment (feasible by the rules of the challenge) and only
keeps feasible moves, so the best assignment seen is always a valid answer; ``on_improve`` receives it each
time it gets better (the caller writes it out), and :func:`solve` returns it at the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from balancerd.optimize.roadef.instance import Instance, IntArray
from balancerd.optimize.roadef.moves import best_shift, best_swap, try_moves
from balancerd.optimize.roadef.state import State

Improve = Callable[[IntArray, int], None]


@dataclass(frozen=True)
class SearchParams:
    """Knobs of the search (defaults tuned on the A set)."""

    swap_partners: int = 2000  # partners screened per swap attempt
    kick_min: int = 2  # processes moved at random by a perturbation
    kick_max: int = 8
    patience: int = 30  # perturbations without a new best before restarting from the best


class _Search:
    def __init__(self, st: State, deadline: float, rng: np.random.Generator, params: SearchParams) -> None:
        self.st = st
        self.deadline = deadline
        self.rng = rng
        self.params = params
        self.best = st.assign.copy()
        self.best_total = st.total

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def descend(self) -> None:
        """Shift and swap moves until a pass over all processes improves nothing (or time is up)."""
        improved = True
        while improved and not self.expired():
            improved = self.one_pass()

    def one_pass(self) -> bool:
        st = self.st
        n = st.inst.n_processes
        improved = False
        for count, p in enumerate(self.rng.permutation(n)):
            if count % 16 == 0 and self.expired():
                return False
            improved |= self.improve_process(int(p))
        return improved

    def improve_process(self, p: int) -> bool:
        st = self.st
        m, _ = best_shift(st, p)
        if m >= 0:
            st.move(p, m)
            return True
        n = st.inst.n_processes
        k = min(n, self.params.swap_partners)
        partners = np.arange(n) if k == n else self.rng.choice(n, size=k, replace=False)
        return best_swap(st, p, partners)

    def kick(self) -> None:
        """Move a few random processes to random feasible machines, whatever the cost."""
        st = self.st
        count = int(self.rng.integers(self.params.kick_min, self.params.kick_max + 1))
        for p in self.rng.choice(st.inst.n_processes, size=count, replace=False):
            targets = st.shift_targets(int(p))
            if targets.shape[0]:
                try_moves(st, [(int(p), int(self.rng.choice(targets)))], slack=1 << 62)

    def record(self, on_improve: Improve | None) -> bool:
        if self.st.total >= self.best_total:
            return False
        self.best_total = self.st.total
        self.best = self.st.assign.copy()
        if on_improve is not None:
            on_improve(self.best, self.best_total)
        return True


def solve(
    inst: Instance,
    original: IntArray,
    deadline: float,
    seed: int = 0,
    on_improve: Improve | None = None,
    params: SearchParams | None = None,
) -> tuple[IntArray, int]:
    """Best feasible assignment found before ``deadline`` (a ``time.monotonic()`` value) and its objective."""
    search = _Search(State(inst, original), deadline, np.random.default_rng(seed), params or SearchParams())
    search.descend()
    search.record(on_improve)
    stale = 0
    while not search.expired():
        search.kick()
        search.descend()
        if search.record(on_improve):
            stale = 0
            continue
        stale += 1
        if stale >= search.params.patience or search.st.total > search.best_total:
            search.st.reset(search.best.copy())
            stale = 0 if stale >= search.params.patience else stale
    return search.best, search.best_total
