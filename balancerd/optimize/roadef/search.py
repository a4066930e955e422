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
from balancerd.optimize.roadef.lns import reassign
from balancerd.optimize.roadef.moves import best_shift, best_swap
from balancerd.optimize.roadef.state import State

Improve = Callable[[IntArray, int], None]


@dataclass(frozen=True)
class SearchParams:
    """Knobs of the search (defaults tuned on the A set)."""

    swap_partners: int = 2000  # partners screened per swap attempt
    lns_seconds: float = 0.5  # CP-SAT time limit per neighbourhood
    lns_min_procs: int = 8  # adaptive size of a neighbourhood, in processes
    lns_max_procs: int = 120
    lns_start_procs: int = 30
    lns_max_machines: int = 8
    descend_every: int = 200  # LNS steps between two shift/swap descents


class _Search:
    def __init__(self, st: State, deadline: float, rng: np.random.Generator, params: SearchParams) -> None:
        self.st = st
        self.deadline = deadline
        self.rng = rng
        self.params = params
        self.best = st.assign.copy()
        self.best_total = st.total
        self.sub_size = params.lns_start_procs

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

    def pick_machines(self) -> IntArray:
        """Machines to re-optimise together: costly ones (drawn by cost) and roomy ones (drawn by spare room)."""
        st, rng = self.st, self.rng
        n_m = st.inst.n_machines
        k = min(n_m, int(rng.integers(2, self.params.lns_max_machines + 1)))
        hot = st.mcost.astype(np.float64) + 1.0
        room = (np.maximum(st.inst.safety - st.use, 0) / (st.inst.safety.sum(axis=0) + 1.0)).sum(axis=1) + 1e-3
        chosen: set[int] = set()
        while len(chosen) < k:
            weights = hot if len(chosen) % 2 == 0 else room
            chosen.add(int(rng.choice(n_m, p=weights / weights.sum())) if rng.random() < 0.7 else int(
                rng.integers(n_m)))
        return np.array(sorted(chosen), dtype=np.int64)

    def pick_processes(self, machines: IntArray) -> IntArray:
        procs = np.flatnonzero(np.isin(self.st.assign, machines))
        if procs.shape[0] > self.sub_size:
            procs = np.sort(self.rng.choice(procs, size=self.sub_size, replace=False))
        return procs

    def lns_step(self) -> None:
        seconds = min(self.params.lns_seconds, max(0.0, self.deadline - time.monotonic()))
        seed = int(self.rng.integers(1 << 30))
        machines = self.pick_machines()
        _, optimal = reassign(self.st, machines, seconds, seed, self.pick_processes(machines))
        if optimal:
            self.sub_size = min(self.params.lns_max_procs, self.sub_size + 1)
        else:
            self.sub_size = max(self.params.lns_min_procs, self.sub_size - 2)

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
    steps = 0
    while not search.expired():
        search.lns_step()
        steps += 1
        if steps % search.params.descend_every == 0:
            search.descend()
        search.record(on_improve)
    return search.best, search.best_total
