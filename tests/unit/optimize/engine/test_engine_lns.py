"""Tests for balancerd.optimize.engine.lns: the CP-SAT step keeps feasibility and finds known improvements."""

from __future__ import annotations

import numpy as np

from balancerd.optimize.engine.lns import reassign
from balancerd.optimize.engine.state import State
from balancerd.roadef.generate import GenSpec, generate
from balancerd.roadef.instance import Instance, IntArray
from balancerd.roadef.objective import is_feasible, objective


def test_whole_tiny_instance_solved_to_optimality(tiny: Instance, tiny_original: IntArray) -> None:
    state = State(tiny, tiny_original)
    improved, optimal = reassign(state, np.arange(3), seconds=5.0, seed=0)
    assert optimal
    assert is_feasible(tiny, tiny_original, state.assign)
    assert state.total == objective(tiny, tiny_original, state.assign)
    best = min(  # brute force over all 3^4 assignments
        objective(tiny, tiny_original, np.array(a))
        for a in np.ndindex(3, 3, 3, 3)
        if is_feasible(tiny, tiny_original, np.array(a))
    )
    assert state.total == best
    assert improved == (best < 63)


def test_subset_of_processes_respects_the_rest() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=80, resources=3, services=20, transient=2, seed=11))
    state = State(inst, orig)
    rng = np.random.default_rng(0)
    for step in range(15):
        machines = np.sort(rng.choice(inst.n_machines, size=4, replace=False))
        procs = np.flatnonzero(np.isin(state.assign, machines))
        procs = np.sort(rng.choice(procs, size=min(8, procs.shape[0]), replace=False))
        before = state.total
        reassign(state, machines, seconds=2.0, seed=step, procs=procs)
        assert state.total <= before
        assert is_feasible(inst, orig, state.assign)
    assert state.total == objective(inst, orig, state.assign)
