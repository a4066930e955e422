"""Tests for balancerd.optimize.engine.state: incremental quantities equal recomputation, masks equal brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from balancerd.optimize.engine.state import State
from balancerd.roadef.generate import GenSpec, generate
from balancerd.roadef.instance import Instance, IntArray
from balancerd.roadef.objective import is_feasible, objective

SPEC = GenSpec(machines=8, processes=40, resources=3, services=12, neighborhoods=3, locations=4, transient=1)


def _same(a: State, b: State) -> None:
    assert a.total == b.total
    assert (a.use == b.use).all() and (a.trans == b.trans).all() and (a.free == b.free).all()
    assert (a.mcost == b.mcost).all()
    assert (a.loc_count == b.loc_count).all() and (a.n_locs == b.n_locs).all()
    assert (a.nb_count == b.nb_count).all() and (a.moved == b.moved).all() and a.max_moved == b.max_moved


def _brute_targets(inst: Instance, orig: IntArray, assign: IntArray, p: int) -> list[int]:
    out = []
    for m in range(inst.n_machines):
        if m != assign[p]:
            trial = assign.copy()
            trial[p] = m
            if is_feasible(inst, orig, trial):
                out.append(m)
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), moves=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 7)), max_size=30))
def test_incremental_state_matches_recomputation(seed: int, moves: list[tuple[int, int]]) -> None:
    inst, orig = generate(GenSpec(**{**SPEC.__dict__, "seed": seed}))
    state = State(inst, orig)
    for p, m in moves:  # any moves, feasible or not: the bookkeeping must stay exact
        state.move(p, m)
        assert state.total == objective(inst, orig, state.assign)
    _same(state, State(inst, orig, state.assign))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), walk=st.integers(0, 30))
def test_shift_targets_and_deltas_match_brute_force(seed: int, walk: int) -> None:
    inst, orig = generate(GenSpec(**{**SPEC.__dict__, "seed": seed}))
    state = State(inst, orig)
    rng = np.random.default_rng(seed)
    for _ in range(walk):  # random feasible walk away from the original
        p = int(rng.integers(inst.n_processes))
        targets = state.shift_targets(p)
        if targets.shape[0]:
            state.move(p, int(rng.choice(targets)))
    assert is_feasible(inst, orig, state.assign)
    base = objective(inst, orig, state.assign)
    for p in rng.choice(inst.n_processes, size=5, replace=False):
        targets = state.shift_targets(int(p))
        assert targets.tolist() == _brute_targets(inst, orig, state.assign, int(p))
        for m, delta in zip(targets.tolist(), state.shift_deltas(int(p), targets).tolist(), strict=True):
            trial = state.assign.copy()
            trial[p] = m
            assert delta == objective(inst, orig, trial) - base


def test_move_and_back_restores_state(tiny: Instance, tiny_original: IntArray) -> None:
    state = State(tiny, tiny_original)
    before = State(tiny, tiny_original)
    state.move(1, 2)
    state.move(3, 0)
    assert state.total == 63 - 0 + (objective(tiny, tiny_original, state.assign) - 63)
    state.move(3, 1)
    state.move(1, 1)
    _same(state, before)


def test_locally_feasible_sees_transient_overflow(tiny: Instance, tiny_original: IntArray) -> None:
    state = State(tiny, tiny_original)
    state.move(0, 1)
    state.move(1, 0)  # transient usage on m1: 4 + 3 + 1 > 7
    assert not state.locally_feasible([0, 1], [0, 1])
