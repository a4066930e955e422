"""Tests for balancerd.optimize.engine.bigfirst: size order, ejection moves, prefix descents, the sweep."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from balancerd.optimize.engine.bigfirst import SweepParams, descend, eject, size_order, sweep
from balancerd.optimize.engine.moves import best_shift
from balancerd.optimize.engine.state import State
from balancerd.roadef.generate import GenSpec, generate
from balancerd.roadef.instance import parse_model
from balancerd.roadef.objective import is_feasible, objective

# 1 resource (weight 100); 3 machines of capacity 10, safety 2 on m0 and 10 elsewhere; 3 services of one
# process each; processes of size 8 (on m0), 5 (m1), 6 (m2). No shift fits anywhere; the load cost is
# (8 - 2) * 100 = 600, and putting the big process on m1 or m2 after making room there pays.
FULL_MODEL = """1
0 100
3
0 0 10 2 0 0 0
0 1 10 10 0 0 0
0 2 10 10 0 0 0
3
1 0
1 0
1 0
3
0 8 0
1 5 0
2 6 0
0
1 10 100
"""


def counting(limit: int) -> Callable[[], bool]:
    """An ``expired`` that turns true after ``limit`` calls (deterministic, no clock)."""
    calls = [0]

    def expired() -> bool:
        calls[0] += 1
        return calls[0] > limit

    return expired


def test_size_order_is_largest_total_requirement_first() -> None:
    inst, _ = generate(GenSpec(machines=6, processes=40, services=10, seed=3))
    order = size_order(inst)
    sizes = inst.requirement.sum(axis=1)[order]
    assert sorted(order.tolist()) == list(range(inst.n_processes))
    assert (np.diff(sizes) <= 0).all()


def test_eject_makes_room_where_no_shift_fits() -> None:
    inst = parse_model(np.array(FULL_MODEL.split(), dtype=np.int64), "full")
    orig = np.array([0, 1, 2], dtype=np.int64)
    state = State(inst, orig)
    assert state.total == 600
    assert all(best_shift(state, p) == (-1, 0) for p in range(3))
    assert eject(state, 0, np.random.default_rng(0), machines_tried=100)
    # big process on m1 (the 5 goes to m0: 300 + service move 10) or on m2 (the 6 goes to m0: 400 + 10)
    assert state.total in (310, 410)
    assert state.total == objective(inst, orig, state.assign)
    assert is_feasible(inst, orig, state.assign)
    assert state.assign[0] in (1, 2) and state.assign[int(state.assign[0])] == 0  # its resident went to m0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_eject_keeps_the_state_exact_and_never_worsens(seed: int) -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=seed))
    state = State(inst, orig)
    rng = np.random.default_rng(seed)
    kept = 0
    for p in size_order(inst)[:30]:
        before = state.total
        if eject(state, int(p), rng, machines_tried=10):
            kept += 1
            assert state.total < before
        else:
            assert state.total == before
        assert state.total == objective(inst, orig, state.assign)
    assert is_feasible(inst, orig, state.assign)
    assert kept > 0


def test_descend_moves_only_the_given_processes() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=4))
    state = State(inst, orig)
    admitted = size_order(inst)[:20]
    descend(state, admitted, np.random.default_rng(0), counting(10_000), partners=2000)
    moved = np.flatnonzero(state.assign != orig)
    assert moved.shape[0] > 0 and set(moved.tolist()) <= set(admitted.tolist())
    assert state.total == objective(inst, orig, state.assign) < objective(inst, orig, orig)
    assert is_feasible(inst, orig, state.assign)


def test_sweep_admits_everything_and_stays_feasible() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=5))
    state = State(inst, orig)
    sweep(state, np.random.default_rng(1), counting(1_000_000), SweepParams(ejections=5, machines_tried=5))
    assert is_feasible(inst, orig, state.assign)
    assert state.total == objective(inst, orig, state.assign) < objective(inst, orig, orig)
    # a completed sweep ends with a descent over all processes: no improving shift is left
    assert all(best_shift(state, p) == (-1, 0) for p in range(inst.n_processes))


def test_sweep_stops_when_time_is_up() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=6))
    state = State(inst, orig)
    sweep(state, np.random.default_rng(0), counting(0), SweepParams())
    assert state.assign.tolist() == orig.tolist()
