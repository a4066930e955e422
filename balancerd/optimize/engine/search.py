"""The engine's improvement: an annealing or big-processes-first start, then CP-SAT neighbourhoods, to a deadline.

Called by :func:`balancerd.optimize.optimizer.plan` (through :mod:`balancerd.optimize.engine.improve`), by
``balancerd bench roadef`` (:mod:`balancerd.roadef.portfolio`) and the benchmarks, through :func:`solve`. Pure:
the deadline is a number and ``now`` the clock that is compared with it, both passed in; randomness comes
from ``seed``. The search never leaves the feasible region: it starts from a feasible assignment (the
original, or the construction's) and only keeps feasible moves, so the best assignment seen is always a valid
answer; ``on_improve`` receives it each time it gets better (the caller writes it out), and :func:`solve`
returns it at the deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from balancerd.optimize.engine.anneal import Annealer
from balancerd.optimize.engine.bigfirst import SweepParams, sweep
from balancerd.optimize.engine.model import IntArray, Model
from balancerd.optimize.engine.moves import best_shift, best_swap
from balancerd.optimize.engine.state import State

Improve = Callable[[IntArray, int], None]
Found = tuple[IntArray, int]  # an assignment and its objective
Share = Callable[[IntArray, int], "Found | None"]  # offer our best, get a better one or None


@dataclass(frozen=True)
class SearchParams:
    """Knobs of the search (defaults tuned on the A set)."""

    swap_partners: int = 2000  # partners screened per swap attempt
    lns_seconds: float = 1.0  # CP-SAT time limit per neighbourhood
    lns_min_procs: int = 20  # adaptive size of a neighbourhood (whole machines), in processes
    lns_max_procs: int = 150
    lns_start_procs: int = 60
    lns_max_machines: int = 12
    lns_home_share: float = 0.3  # share of neighbourhoods built around a moved process and its original machine
    # share of neighbourhoods whose other machines are drawn by their weighted room below safety (where the
    # anchor's excess load can go) instead of uniformly; from the same a2_2 start (871.3 M), 120 s of
    # neighbourhoods: uniform 854.4 / 865.4 M (seeds 0 / 1); half room-drawn 840.6 / 845.8 M (seeds 0 / 1,
    # costly anchors only) and 850.2 / 861.9 M (seeds 0 / 2, any anchor); about two thirds 845.5 M (seed 2);
    # a2_3 within 0.2 % either way, a2_5 334.4 against 335.5 M
    lns_room_share: float = 0.7
    descend_every: int = 200  # LNS steps between two shift/swap descents
    # share of the time spent annealing: on a2_3 the annealing levels off after about 70 s of 300 and the
    # neighbourhoods find the rest; single-core runs at 300 s, 0.25 against 0.6: a1_4 256.2 / 267.2 M, a2_1
    # 171 / 181, a2_5 350.3 / 353.9 M
    anneal_share: float = 0.25
    # start temperature, in units of the cost per process; a2_2 from the original, 60 s of compiled annealing:
    # 1.05e9 starting at 1 or 5, 1.12e9 at 5 cooling to 1e-5 of it
    anneal_start: float = 1.0
    anneal_drop: float = 1e-4  # end temperature / start temperature
    anneal_swap_share: float = 0.5  # share of annealing steps that try a swap (the others a shift)
    anneal_chunk: int = 100_000  # compiled steps between two readings of the clock
    polish_share: float = 0.03  # share of the time kept for the final shift/swap descent from the best
    start: Literal["anneal", "bigfirst"] = "anneal"  # first phase: annealing, or the big-processes-first sweep
    sweep: SweepParams = field(default_factory=SweepParams)
    share_seconds: float = 10.0  # between two exchanges of the best with other workers (phase 2 only)
    # neighbourhood steps in a row without a better best after which phase 2 ends before the deadline (0: never);
    # the daemon's small clusters are solved long before their budget is spent
    stall_steps: int = 0
    # CP-SAT's limit in deterministic time, so that equal clock readings give equal answers (the daemon's plans)
    lns_deterministic: bool = False
    # shift/swap descents before the neighbourhoods; the daemon starts from construction, where a pass over a
    # 600-VM cluster takes about 0.4 s and finds next to nothing, so its budget goes to the neighbourhoods
    first_descent: bool = True


class _Search:
    def __init__(
        self, st: State, deadline: float, rng: np.random.Generator, params: SearchParams,
        now: Callable[[], float], share: Share | None = None,
    ) -> None:
        self.st = st
        self.share = share
        self.shared_at = -float("inf")
        self.now = now
        self.deadline = deadline
        self.rng = rng
        self.params = params
        self.best = st.assign.copy()
        self.best_total = st.total
        self.sub_size = params.lns_start_procs

    def expired(self) -> bool:
        return self.now() >= self.deadline

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
        partners = np.arange(n) if k == n else self.rng.integers(0, n, size=k)
        return best_swap(st, p, partners)

    def pick_machines(self) -> IntArray:
        """Whole machines for one neighbourhood: an anchor (a costly machine, drawn by cost, or the machine of a
        moved process together with that process's original machine), then machines in :meth:`partner_order`
        until they run ``sub_size`` processes."""
        st, rng = self.st, self.rng
        n_m = st.inst.n_machines
        chosen: list[int] = []
        moved = np.flatnonzero(st.assign != st.orig)
        if moved.shape[0] and rng.random() < self.params.lns_home_share:
            p = int(rng.choice(moved))
            chosen += [int(st.assign[p]), int(st.orig[p])]
        else:
            hot = st.mcost.astype(np.float64) + 1.0
            chosen.append(int(rng.choice(n_m, p=hot / hot.sum())))
        counts = np.bincount(st.assign, minlength=n_m)
        size = int(counts[chosen].sum())
        for m in self.partner_order(chosen[0]):
            if size >= self.sub_size or len(chosen) >= self.params.lns_max_machines:
                break
            if int(m) not in chosen:
                chosen.append(int(m))
                size += int(counts[m])
        return np.array(sorted(chosen), dtype=np.int64)

    def partner_order(self, anchor: int) -> IntArray:
        """Every machine, in the order a neighbourhood takes them: ``lns_room_share`` of the time drawn by
        weighted room below safety (sampling without replacement by exponential keys), otherwise at random,
        half of those times with the anchor's neighbourhood first."""
        st, rng = self.st, self.rng
        n_m = st.inst.n_machines
        if rng.random() < self.params.lns_room_share:
            room = (np.maximum(st.inst.safety - st.use, 0) * st.inst.weight_load).sum(axis=1) + 1.0
            by_room: IntArray = np.argsort(rng.exponential(size=n_m) / room, kind="stable")
            return by_room
        order = rng.permutation(n_m)
        if rng.random() < 0.5:
            order = order[np.argsort(st.inst.neighborhood[order] != st.inst.neighborhood[anchor], kind="stable")]
        return order

    def lns_step(self) -> None:
        seconds = min(self.params.lns_seconds, max(0.0, self.deadline - self.now()))
        seed = int(self.rng.integers(1 << 30))
        from balancerd.optimize.engine.lns import reassign  # CP-SAT (and pandas) load only when a search runs

        _, optimal = reassign(self.st, self.pick_machines(), seconds, seed, deterministic=self.params.lns_deterministic)
        if optimal:
            self.sub_size = min(self.params.lns_max_procs, self.sub_size + 1)
        else:
            self.sub_size = max(self.params.lns_min_procs, self.sub_size - 5)

    def anneal(self, until: float, on_improve: Improve | None) -> None:
        """Compiled Metropolis annealing (:mod:`anneal`) from ``anneal_start`` x cost per process down by
        ``anneal_drop``; each chunk cools over the share of the time the previous chunk took."""
        st, params = self.st, self.params
        start = self.now()
        span = until - start
        if span <= 0:
            return
        t0 = params.anneal_start * max(st.total, 1) / st.inst.n_processes
        annealer = Annealer(st)
        took = 0.0
        while (now := self.now()) < until:
            done = (now - start) / span
            ahead = min(1.0, done + took / span)
            annealer.run(params.anneal_chunk, t0 * params.anneal_drop ** done, t0 * params.anneal_drop ** ahead,
                         int(self.rng.integers(1 << 30)), params.anneal_swap_share)
            took = self.now() - now
            if annealer.best_total < self.best_total:
                self.best_total, self.best = annealer.best_total, annealer.best()
                if on_improve is not None:
                    on_improve(self.best, self.best_total)
        st.reset(annealer.assignment())

    def exchange(self, on_improve: Improve | None) -> None:
        """Offer the best to the other workers; continue from theirs if it is better (at most every
        ``share_seconds``)."""
        if self.share is None or self.now() - self.shared_at < self.params.share_seconds:
            return
        self.shared_at = self.now()
        found = self.share(self.best, self.best_total)
        if found is not None and found[1] < self.best_total:
            self.st.reset(found[0].copy())
            self.record(on_improve)

    def record(self, on_improve: Improve | None) -> bool:
        if self.st.total >= self.best_total:
            return False
        self.best_total = self.st.total
        self.best = self.st.assign.copy()
        if on_improve is not None:
            on_improve(self.best, self.best_total)
        return True


def solve(
    inst: Model,
    original: IntArray,
    deadline: float,
    now: Callable[[], float],
    seed: int = 0,
    on_improve: Improve | None = None,
    params: SearchParams | None = None,
    share: Share | None = None,
    start: IntArray | None = None,
) -> Found:
    """Best feasible assignment found before ``deadline`` (a value of ``now()``) and its objective.

    Phase 1 anneals (heat-bath shifts, improving swaps) for ``anneal_share`` of the time, or with
    ``params.start == "bigfirst"`` runs one :func:`bigfirst.sweep` (at most as long); phase 2 restarts
    from the best and alternates CP-SAT neighbourhoods with shift/swap descents; the last ``polish_share`` of
    the time descends from the best, so the answer is a local optimum for shifts (an LNS step leaves its
    neighbourhood optimal, not the rest: on a2_5 the final descent finds about 1 % more). With ``share``
    (several workers, :mod:`portfolio`) phase 2 exchanges the best with the others every ``share_seconds``
    and goes on from theirs when it is better.
    """
    rng = np.random.default_rng(seed)
    params = params or SearchParams()
    began = now()
    polish_from = deadline - params.polish_share * (deadline - began)
    search = _Search(State(inst, original, start), polish_from, rng, params, now, share)
    first_phase_end = began + params.anneal_share * (search.deadline - began)
    if params.start == "bigfirst":
        sweep(search.st, rng, lambda: now() >= first_phase_end, params.sweep)
    elif params.first_descent:
        search.one_pass()
        search.record(on_improve)
        search.anneal(first_phase_end, on_improve)
    search.record(on_improve)
    search.exchange(on_improve)
    search.st.reset(search.best.copy())
    if params.first_descent:
        search.descend()
    search.record(on_improve)
    steps = stalled = 0
    while not search.expired() and (not params.stall_steps or stalled < params.stall_steps):
        search.lns_step()
        steps += 1
        if steps % search.params.descend_every == 0:
            search.descend()
        stalled = 0 if search.record(on_improve) else stalled + 1
        search.exchange(on_improve)
    search.deadline = deadline
    search.st.reset(search.best.copy())
    search.descend()
    search.record(on_improve)
    return search.best, search.best_total
