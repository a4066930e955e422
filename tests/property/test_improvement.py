"""Hypothesis invariants of ``plan()`` when the engine improves the balance strategy's target state.

The same generated clusters as ``test_plan_invariants`` (and its independent load model); the search runs on a
counting clock (each reading advances it by a millisecond), so the budget is a number of clock readings and
no test waits on wall time. Construction alone is covered by ``test_plan_invariants``.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings

from balancerd.config import PolicyConfig
from balancerd.model import ClusterSnapshot, Forecast, Plan
from balancerd.optimize import Search, plan
from tests import builders
from tests.property.test_plan_invariants import (
    balanced,
    check_rules,
    clusters,
    final_hosts,
    over_capacity_steps,
    ruled,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Case = tuple[ClusterSnapshot, Forecast, PolicyConfig]


def improved(case: Case, **kw: object) -> Plan:
    snap, forecast, policy = case
    return plan(snap, forecast, policy, search=Search(deadline=0.5, now=builders.counting_clock(), seed=7), **kw)  # type: ignore[arg-type]


@SETTINGS
@given(clusters())
def test_improved_plans_keep_capacity_budget_and_one_move_per_vm(case: Case) -> None:
    snap, forecast, policy = case
    result = improved(case)
    assert over_capacity_steps(snap, forecast, result) == []
    final_hosts(snap, result)  # every move starts where the VM is
    others = Counter(m.vm for m in result.moves if not m.reason.startswith("park:"))
    assert max(others.values(), default=0) <= 1
    assert len(result.moves) <= policy.max_moves_per_cycle
    assert result.objective >= result.lower_bound - 1e-9


@SETTINGS
@given(clusters())
def test_improvement_never_scores_below_construction_nor_migrates_more(case: Case) -> None:
    snap, forecast, policy = case
    alone = plan(snap, forecast, policy)
    result = improved(case)
    assert result.score_after >= alone.score_after - 1e-9 or not alone.moves
    assert result.migration_mib <= alone.migration_mib


@SETTINGS
@given(clusters())
def test_improvement_leaves_cooled_in_flight_and_unreachable_alone(case: Case) -> None:
    snap, _, _ = case
    cooled = frozenset(vm.name for vm in snap.vms[::3])
    result = improved(case, cooldown=cooled)
    flying = {f.vm for f in snap.in_flight}
    for move in result.moves:
        assert snap.host(move.source).reachable and snap.host(move.dest).reachable
        assert not snap.host(move.dest).maintenance
        assert move.vm not in flying
        if move.purpose == "balance":
            assert move.vm not in cooled


@SETTINGS
@given(balanced())
def test_a_balanced_cluster_still_yields_an_empty_plan(case: Case) -> None:
    result = improved(case)
    assert result.empty


@settings(SETTINGS, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(ruled())
def test_improved_plans_respect_every_rule_kind(case: Case) -> None:
    snap, forecast, policy = case
    check_rules(snap, forecast, policy, improved(case))
