"""Tests for balancerd.optimize.engine.anneal: the annealer works on copies and hands back valid assignments."""

from __future__ import annotations

from balancerd.optimize.engine.anneal import Annealer
from balancerd.optimize.engine.state import State
from balancerd.roadef.generate import GenSpec, generate
from balancerd.roadef.objective import is_feasible, objective


def test_annealer_leaves_the_state_alone_and_returns_its_best() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=80, resources=3, services=20, seed=8))
    state = State(inst, orig)
    annealer = Annealer(state)
    kept = annealer.run(20_000, 5.0 * state.total / inst.n_processes, 1e-3, seed=3, swap_share=0.5)
    assert kept > 0 and (state.assign == orig).all() and state.total == objective(inst, orig, orig)
    best, now = annealer.best(), annealer.assignment()
    assert objective(inst, orig, best) == annealer.best_total < state.total
    assert objective(inst, orig, now) == annealer.total
    assert is_feasible(inst, orig, best) and is_feasible(inst, orig, now)
    best[0] = -1  # copies: changing them changes nothing in the annealer
    assert annealer.best()[0] != -1
