"""Tests for balancerd.optimize.engine.compiled: the compiled moves judge and price exactly as the numpy state.

On ROADEF-shaped models and on models with every cluster extension (second load tier, per-machine weights, masks,
frozen processes, placement costs, move budgets, move areas, services that may share machines), a compiled shift is
allowed exactly where :meth:`State.shift_targets` allows it and changes the total by :meth:`State.shift_deltas`;
swaps and annealing keep the total equal to the objective recomputed from scratch and every rule.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from balancerd.optimize.engine import compiled
from balancerd.optimize.engine.costs import objective
from balancerd.optimize.engine.model import IntArray, Model
from balancerd.optimize.engine.state import State
from balancerd.roadef.generate import GenSpec, generate

SPEC = GenSpec(machines=8, processes=40, resources=3, services=12, neighborhoods=3, locations=4, transient=1)


def _cluster_model(inst: Model, rng: np.random.Generator) -> Model:
    """The same problem with every extension the daemon's model can carry, drawn at random."""
    n_m, n_p, n_r, n_s = inst.n_machines, inst.n_processes, inst.n_resources, inst.n_services
    picked = rng.choice(n_p, size=8, replace=False)
    return replace(
        inst,
        weight_load=rng.integers(1, 4, size=(n_m, n_r)),
        level=inst.safety // 2,
        weight_level=rng.integers(0, 3, size=n_r),
        open_host=rng.random(n_m) < 0.8,
        only={int(p): rng.random(n_m) < 0.6 for p in picked[:4]},
        frozen=rng.random(n_p) < 0.1,
        place_cost={int(p): rng.integers(0, 50, size=n_m) for p in picked[4:]},
        max_moves=6,
        move_size=rng.integers(1, 10, size=n_p),
        max_move_size=30,
        move_area=rng.integers(0, 3, size=n_m),
        machine_move_cost=rng.integers(0, 4, size=(3, 3)),
        distinct=rng.random(n_s) < 0.7,
    )


def _model(seed: int, cluster: bool) -> tuple[Model, IntArray]:
    inst, orig = generate(GenSpec(**{**SPEC.__dict__, "seed": seed}))
    return (_cluster_model(inst, np.random.default_rng(seed)) if cluster else inst), orig


def _walk(state: State, rng: np.random.Generator, steps: int) -> None:
    """A random feasible walk away from the original (through the numpy state's own masks)."""
    for _ in range(steps):
        p = int(rng.integers(state.inst.n_processes))
        targets = state.shift_targets(p)
        if targets.shape[0]:
            state.move(p, int(rng.choice(targets)))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), walk=st.integers(0, 30), cluster=st.booleans())
def test_a_compiled_shift_is_allowed_priced_and_kept_as_in_the_state(seed: int, walk: int, cluster: bool) -> None:
    inst, orig = _model(seed, cluster)
    state = State(inst, orig)
    rng = np.random.default_rng(seed)
    _walk(state, rng, walk)
    fixed, live = compiled.fixed_of(inst, orig), compiled.live_of(state)
    for p in rng.choice(inst.n_processes, size=6, replace=False).tolist():
        targets = state.shift_targets(p).tolist()
        deltas = dict(zip(targets, state.shift_deltas(p, np.array(targets, dtype=np.int64)).tolist(), strict=True))
        for m in range(inst.n_machines):
            ok, change = compiled.price(fixed, live, p, m)
            assert ok == (m in deltas), (p, m)
            assert compiled.try_shift(fixed, compiled.live_of(state), p, m, 1e12) == ok, (p, m)
            if ok:
                assert change == deltas[m]
    assert (live.assign == state.assign).all() and int(live.counters[compiled.TOTAL]) == state.total


def _rules_hold(inst: Model, orig: IntArray, assign: IntArray) -> bool:
    """Every hard rule a move can break, through the numpy state's check over the moved processes and all machines
    (the original is valid by construction)."""
    moved = [p for p in range(inst.n_processes) if assign[p] != orig[p]]
    return not moved or State(inst, orig, assign).locally_feasible(moved, list(range(inst.n_machines)))


def _swap_allowed(inst: Model, orig: IntArray, assign: IntArray, p: int, q: int) -> bool:
    """The numpy state's judgement of swapping p and q (masks on both new machines, then its local check)."""
    a, b = int(assign[p]), int(assign[q])
    if a == b or inst.service[p] == inst.service[q] or not (inst.placeable(p, b) and inst.placeable(q, a)):
        return False
    trial = assign.copy()
    trial[p], trial[q] = b, a
    return State(inst, orig, trial).locally_feasible([p, q], sorted({a, b}))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cluster=st.booleans())
def test_a_hot_swap_is_kept_exactly_where_the_state_allows_it(seed: int, cluster: bool) -> None:
    inst, orig = _model(seed, cluster)
    fixed, live = compiled.fixed_of(inst, orig), compiled.live_of(State(inst, orig))
    rng = np.random.default_rng(seed)
    for _ in range(200):
        p, q = rng.integers(inst.n_processes, size=2).tolist()
        before = live.assign.copy()
        allowed = _swap_allowed(inst, orig, before, p, q)
        # any change passes the Metropolis test this hot: only the rules can refuse
        assert compiled.try_swap(fixed, live, p, q, 1e12) == allowed, (p, q)
        assert (live.assign != before).sum() == (2 if allowed else 0)
        assert int(live.counters[compiled.TOTAL]) == objective(inst, orig, live.assign)
    assert _rules_hold(inst, orig, live.assign)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), cluster=st.booleans())
def test_annealing_keeps_the_rules_and_records_its_best(seed: int, cluster: bool) -> None:
    inst, orig = _model(seed, cluster)
    state = State(inst, orig)
    fixed, live = compiled.fixed_of(inst, orig), compiled.live_of(state)
    compiled.anneal(fixed, live, 20_000, 10.0 * state.total / inst.n_processes, 1e-3, seed, 0.5)
    assert int(live.counters[compiled.TOTAL]) == objective(inst, orig, live.assign)
    assert int(live.counters[compiled.BEST]) == objective(inst, orig, live.best) <= state.total
    assert _rules_hold(inst, orig, live.assign) and _rules_hold(inst, orig, live.best)
    if inst.frozen is not None:
        assert (live.assign[inst.frozen] == orig[inst.frozen]).all()
    assert (state.assign == orig).all()  # the state itself is never touched


def test_cold_annealing_only_improves_and_finds_something() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=80, resources=3, services=20, seed=4))
    state = State(inst, orig)
    fixed, live = compiled.fixed_of(inst, orig), compiled.live_of(state)
    compiled.anneal(fixed, live, 50_000, 1e-9, 1e-9, 0, 0.5)
    assert int(live.counters[compiled.TOTAL]) < state.total
    assert int(live.counters[compiled.BEST]) == int(live.counters[compiled.TOTAL])


def test_the_same_seed_gives_the_same_walk() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=80, resources=3, services=20, seed=5))
    runs = []
    for _ in range(2):
        fixed, live = compiled.fixed_of(inst, orig), compiled.live_of(State(inst, orig))
        compiled.anneal(fixed, live, 10_000, 1e3, 1.0, 7, 0.5)
        runs.append(live.assign.copy())
    assert (runs[0] == runs[1]).all()
