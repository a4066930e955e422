"""Tests for balancerd.optimize.engine.search (and the moves it uses): feasible, never worse, improves, on time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from balancerd.optimize.engine.moves import best_shift, swap_deltas, try_moves
from balancerd.optimize.engine.search import SearchParams, _Search, solve
from balancerd.optimize.engine.state import State
from balancerd.roadef.generate import GenSpec, generate
from balancerd.roadef.instance import Instance, IntArray
from balancerd.roadef.objective import is_feasible, objective


def ticking(step: float) -> Callable[[], float]:
    """A fake clock that advances by ``step`` each time it is read (deterministic deadlines, no sleeping)."""
    now = [0.0]

    def read() -> float:
        now[0] += step
        return now[0]

    return read


FAST = SearchParams(lns_seconds=0.05)


def test_tiny_optimal_original_is_kept(tiny: Instance, tiny_original: IntArray) -> None:
    seen: list[int] = []
    best, total = solve(tiny, tiny_original, deadline=2.0, now=ticking(0.01), params=FAST,
                        on_improve=lambda a, t: seen.append(t))
    assert is_feasible(tiny, tiny_original, best)
    assert total == objective(tiny, tiny_original, best) == 63  # the original is optimal (brute force in test_lns)
    assert seen == []  # nothing better to report


def test_generated_instance_improves_and_stays_feasible() -> None:
    inst, orig = generate(GenSpec(machines=12, processes=120, resources=4, services=30, seed=3))
    start = objective(inst, orig, orig)
    seen: list[int] = []
    best, total = solve(inst, orig, deadline=3.0, now=ticking(0.05), seed=1, params=FAST,
                        on_improve=lambda a, t: seen.append(t))
    assert is_feasible(inst, orig, best)
    assert total == objective(inst, orig, best) < start
    assert seen == sorted(seen, reverse=True) and seen[-1] == total


def test_deadline_already_past_returns_original_or_better() -> None:
    inst, orig = generate(GenSpec(machines=6, processes=30, services=10, seed=5))
    best, total = solve(inst, orig, deadline=0.0, now=ticking(1.0))
    assert is_feasible(inst, orig, best)
    assert total <= objective(inst, orig, orig)


def test_lns_phase_alone_improves() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=80, resources=3, services=20, seed=9))
    params = SearchParams(anneal_share=0.0, descend_every=1_000_000, lns_seconds=0.05)
    best, total = solve(inst, orig, deadline=1.0, now=ticking(0.01), params=params)
    assert is_feasible(inst, orig, best)
    assert total < objective(inst, orig, orig)


def test_best_shift_improves_exactly() -> None:
    inst, orig = generate(GenSpec(machines=8, processes=60, services=15, seed=2))
    state = State(inst, orig)
    for p in range(inst.n_processes):
        before = state.total
        m, delta = best_shift(state, p)
        if m >= 0:
            state.move(p, m)
            assert delta < 0 and state.total == before + delta
    assert state.total == objective(inst, orig, state.assign)
    assert is_feasible(inst, orig, state.assign)


def test_swap_screen_is_exact_without_service_move_cost() -> None:
    inst, orig = generate(GenSpec(machines=8, processes=60, services=60, seed=4))
    inst = Instance(**{**inst.__dict__, "weight_service_move": 0})
    state = State(inst, orig)
    cands, deltas = swap_deltas(state, 0, np.arange(inst.n_processes))
    assert cands.shape[0] > 0
    for q, d in zip(cands.tolist(), deltas.tolist(), strict=True):
        trial = orig.copy()
        trial[0], trial[q] = orig[q], orig[0]
        assert d == objective(inst, orig, trial) - state.total


def test_try_moves_undoes_infeasible_moves(tiny: Instance, tiny_original: IntArray) -> None:
    state = State(tiny, tiny_original)
    assert not try_moves(state, [(0, 1), (1, 0)], slack=1 << 40)  # transient overflow on m1
    assert state.assign.tolist() == tiny_original.tolist() and state.total == 63


def test_answer_is_a_local_optimum_for_shifts() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=11))
    # phase 1 takes all the time before the polish and never cools: only the final descent can settle it
    params = SearchParams(anneal_share=1.0, anneal_drop=1.0, polish_share=0.3)
    best, total = solve(inst, orig, deadline=2.0, now=ticking(0.01), params=params)
    state = State(inst, orig, best)
    assert state.total == total
    assert all(best_shift(state, p) == (-1, 0) for p in range(inst.n_processes))


def _search(inst: Instance, orig: IntArray, params: SearchParams, seed: int = 0) -> _Search:
    return _Search(State(inst, orig), deadline=1.0, rng=np.random.default_rng(seed), params=params,
                   now=lambda: 0.0)


def test_neighbourhood_is_whole_machines_up_to_the_size() -> None:
    inst, orig = generate(GenSpec(machines=20, processes=200, resources=3, services=40, seed=12))
    counts = np.bincount(orig, minlength=inst.n_machines)
    search = _search(inst, orig, SearchParams(lns_start_procs=45, lns_max_machines=20))
    for _ in range(20):
        machines = search.pick_machines()
        assert np.unique(machines).shape[0] == machines.shape[0]
        size = int(counts[machines].sum())
        assert size >= 45 and size - int(counts[machines].max()) < 45  # no more machines than needed


def test_neighbourhood_size_is_capped_in_machines() -> None:
    inst, orig = generate(GenSpec(machines=20, processes=200, resources=3, services=40, seed=12))
    search = _search(inst, orig, SearchParams(lns_start_procs=10_000, lns_max_machines=3))
    assert all(search.pick_machines().shape[0] == 3 for _ in range(10))


def test_home_neighbourhood_holds_a_moved_process_and_its_original_machine() -> None:
    inst, orig = generate(GenSpec(machines=20, processes=200, resources=3, services=40, seed=12))
    search = _search(inst, orig, SearchParams(lns_home_share=1.0, lns_start_procs=1, lns_max_machines=2))
    state = search.st
    p = next(p for p in range(inst.n_processes) if state.shift_targets(p).shape[0])
    state.move(p, int(state.shift_targets(p)[0]))
    assert search.pick_machines().tolist() == sorted([int(orig[p]), int(state.assign[p])])


def _room(search: _Search) -> IntArray:
    st = search.st
    room: IntArray = (np.maximum(st.inst.safety - st.use, 0) * st.inst.weight_load).sum(axis=1)
    return room


def test_room_partners_favour_machines_with_room_below_safety() -> None:
    inst, orig = generate(GenSpec(machines=40, processes=300, resources=3, services=60, seed=14))
    by_room = _search(inst, orig, SearchParams(lns_room_share=1.0), seed=5)
    uniform = _search(inst, orig, SearchParams(lns_room_share=0.0), seed=5)
    room = _room(by_room)
    assert room.std() > 0  # the generated machines differ in room
    first_by_room = [int(room[by_room.partner_order(0)[0]]) for _ in range(200)]
    first_uniform = [int(room[uniform.partner_order(0)[0]]) for _ in range(200)]
    assert np.mean(first_by_room) > np.mean(first_uniform) + room.std()
    assert sorted(by_room.partner_order(0).tolist()) == list(range(inst.n_machines))  # every machine, once


def test_phase_two_takes_a_better_answer_from_another_worker() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=13))
    other, other_total = solve(inst, orig, deadline=3.0, now=ticking(0.01), seed=2, params=FAST)
    offers: list[int] = []

    def share(best: IntArray, total: int) -> tuple[IntArray, int] | None:
        offers.append(total)
        return other.copy(), other_total

    seen: list[int] = []
    params = SearchParams(anneal_share=0.0, lns_seconds=0.05, share_seconds=0.2)
    best, total = solve(inst, orig, deadline=1.0, now=ticking(0.01), params=params, share=share,
                        on_improve=lambda a, t: seen.append(t))
    assert offers and offers[0] > other_total  # it offered its own (worse) best first
    assert 1 <= len(offers) <= 6  # at most once per share_seconds
    assert other_total in seen or min(seen) < other_total  # the better answer was taken (and reported)
    assert total <= other_total and is_feasible(inst, orig, best)
