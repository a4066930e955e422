"""Improvement of a plan's construction within a time budget: the entry point ``plan()`` calls.

Called by :func:`balancerd.optimize.optimizer.plan` after the strategies have built the cycle's target state.
The working state becomes the engine's model (:mod:`balancerd.optimize.engine.fromstate`), the engine's
search (:func:`balancerd.optimize.engine.search.solve`, the one ``balancerd bench roadef`` measures) improves
construction's assignment until ``Search.deadline`` on the clock ``Search.now`` (both passed in: the core
reads no clock of its own), and the VMs whose host changed are handed back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from balancerd.optimize.engine.costs import objective
from balancerd.optimize.engine.fromstate import problem
from balancerd.optimize.engine.search import SearchParams, solve
from balancerd.optimize.state import ClusterState

DAEMON_PARAMS = SearchParams(anneal_share=0.0, first_descent=False, polish_share=0.1, lns_seconds=0.25,
                             swap_partners=500, descend_every=1000, stall_steps=40, lns_deterministic=True)
"""Construction is the start: no annealing and no descent before the CP-SAT neighbourhoods (on the
constrained-cluster benchmark, 600 VMs, a shift/swap pass takes about 0.4 s and finds next to nothing, while
2 s of neighbourhoods take the objective to a third), one descent at the end, until the deadline or 40
neighbourhoods in a row improve nothing."""


@dataclass(frozen=True, slots=True)
class Search:
    """How long improvement may run: until ``deadline`` on the clock ``now`` (None: construction only), with
    the seed of its random choices."""

    deadline: float = 0.0
    now: Callable[[], float] | None = None
    seed: int = 0

    def active(self) -> bool:
        return self.now is not None and self.now() < self.deadline


@dataclass(frozen=True, slots=True)
class Improvement:
    """The hosts improvement chose (VM -> host, only those that differ from construction's) and the engine's
    objective before and after."""

    moved: dict[str, str]
    before: int
    after: int


def improve(start: ClusterState, end: ClusterState, free: Iterable[str], search: Search,
            max_moves: int | None = None) -> Improvement | None:
    """A better placement of the VMs in ``free`` than ``end`` (construction's state over ``start``, the
    snapshot's) with at most ``max_moves`` VMs away from their host in ``start``, or None when the budget is
    spent or the search found nothing better."""
    if search.now is None or not search.active():
        return None
    prob = problem(start, end, free, max_moves)
    before = objective(prob.model, prob.original, prob.start)
    best, total = solve(prob.model, prob.original, search.deadline, search.now, seed=search.seed,
                        params=DAEMON_PARAMS, start=prob.start)
    if total >= before:
        return None
    moved = {vm: prob.hosts[int(best[p])] for p, vm in enumerate(prob.vms) if best[p] != prob.start[p]}
    return Improvement(moved, before, total)
