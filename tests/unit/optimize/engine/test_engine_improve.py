"""Tests for balancerd.optimize.engine.improve and its use in plan(): the engine improves construction."""

from __future__ import annotations

import numpy as np

from balancerd.model import Forecast
from balancerd.optimize import Search, plan
from balancerd.optimize.engine.costs import objective
from balancerd.optimize.engine.fromstate import problem
from balancerd.optimize.engine.moves import best_swap
from balancerd.optimize.engine.state import State
from balancerd.optimize.state import ClusterState
from tests import builders as b


def _cluster() -> tuple[object, object, object]:
    rng = np.random.default_rng(3)
    loads = [[int(x) for x in rng.integers(200, 3000, size=rng.integers(2, 12))] for _ in range(12)]
    snap = b.grid(loads, cpu_m=32000)
    policy = b.policy({"max_moves_per_cycle": 20,
                       "rules": [{"kind": "anti_affinity", "vms": ["h0v0", "h1v0", "h2v0"]}]})
    return snap, Forecast(300), policy


def test_improvement_scores_above_construction_with_fewer_migrated_mib() -> None:
    snap, forecast, policy = _cluster()
    alone = plan(snap, forecast, policy)  # type: ignore[arg-type]
    better = plan(snap, forecast, policy, search=Search(deadline=1.0, now=b.counting_clock(), seed=1))  # type: ignore[arg-type]
    assert better.score_after > alone.score_after
    assert better.migration_mib <= alone.migration_mib
    assert len(better.moves) <= policy.max_moves_per_cycle  # type: ignore[attr-defined]
    assert any(n.startswith("improvement: engine objective") for n in better.notes)


def test_the_same_clock_readings_and_seed_give_the_same_plan() -> None:
    snap, forecast, policy = _cluster()
    plans = [plan(snap, forecast, policy, search=Search(deadline=0.3, now=b.counting_clock(), seed=4))  # type: ignore[arg-type]
             for _ in range(2)]
    assert plans[0].moves == plans[1].moves


def test_no_budget_is_construction_only() -> None:
    snap, forecast, policy = _cluster()
    spent = Search(deadline=0.0, now=b.counting_clock())
    assert plan(snap, forecast, policy, search=spent).moves == plan(snap, forecast, policy).moves  # type: ignore[arg-type]


def test_the_model_of_a_state_prices_its_start_like_the_state() -> None:
    snap, forecast, policy = _cluster()
    start = ClusterState(snap, forecast, policy, frozenset())  # type: ignore[arg-type]
    prob = problem(start, start, set(start.vms))
    assert objective(prob.model, prob.original, prob.start) > 0  # the cluster is unbalanced
    assert (prob.original == prob.start).all()
    hosts_load = np.zeros((len(prob.hosts), prob.model.n_resources), dtype=np.int64)
    np.add.at(hosts_load, prob.original, prob.model.requirement)
    for m, name in enumerate(prob.hosts):  # VMs plus the frozen overhead row carry each host's whole load
        load = start.hosts[name]
        assert list(hosts_load[m, :4]) == [load.cap_cpu, load.cap_mem, load.bal_cpu, load.bal_mem]
    assert prob.model.frozen is not None and prob.model.frozen[len(prob.vms):].all()


def test_anti_affinity_members_share_one_service_and_must_rules_become_masks() -> None:
    snap, forecast, _ = _cluster()
    policy = b.policy({"rules": [{"kind": "anti_affinity", "vms": ["h0v0", "h1v0"]},
                                 {"kind": "must", "vms": ["h3v0"], "hosts": ["h4", "h5"]}]})
    start = ClusterState(snap, forecast, policy, frozenset())  # type: ignore[arg-type]
    prob = problem(start, start, set(start.vms))
    index = {name: p for p, name in enumerate(prob.vms)}
    assert prob.model.service[index["h0v0"]] == prob.model.service[index["h1v0"]]
    mask = prob.model.only[index["h3v0"]]
    assert [prob.hosts[m] for m in np.flatnonzero(mask)] == ["h4", "h5"]


def test_swaps_never_move_a_frozen_vm_not_even_back_to_its_host() -> None:
    snap = b.grid([[4000, 500], [6000, 6000]], cpu_m=32000)
    start = ClusterState(snap, Forecast(300), b.policy(), frozenset())
    end = start.copy()
    end.apply("h0v0", "h1")  # construction's move of a VM the engine may not touch
    prob = problem(start, end, {"h0v1", "h1v0", "h1v1"})
    st = State(prob.model, prob.original, prob.start)
    x, q = prob.vms.index("h0v0"), prob.vms.index("h0v1")
    swapped = st.total
    st.move(x, 0)
    st.move(q, 1)
    assert st.total < swapped  # the swap would pay: x back home, the small VM over
    st.reset(prob.start.copy())
    assert not best_swap(st, x, np.arange(prob.model.n_processes))
    assert not best_swap(st, q, np.array([x]))
    assert (st.assign == prob.start).all()


def test_improvement_migrates_no_more_mib_than_construction() -> None:
    snap, forecast, policy = _cluster()
    start = ClusterState(snap, forecast, policy, frozenset())  # type: ignore[arg-type]
    end = start.copy()
    end.apply("h0v0", "h5")
    prob = problem(start, end, set(start.vms))
    moved = int(np.flatnonzero(prob.original != prob.start)[0])
    assert prob.model.max_move_size == prob.model.size_of(moved) > 0
    st = State(prob.model, prob.original, prob.start)
    bigger = [p for p in range(len(prob.vms)) if p != moved and prob.model.size_of(p) >= prob.model.size_of(moved)]
    assert bigger and all(st.shift_targets(p).shape[0] == 0 for p in bigger if st.assign[p] == st.orig[p])
    st.move(moved, int(prob.original[moved]))  # home again: the room is back
    assert any(st.shift_targets(p).shape[0] for p in bigger)
