"""Hypothesis invariants of ``optimize.plan`` under the service's limits (issue 21 item 2): nothing starts
whose purpose the limits do not allow, balancing never moves a VM at its daily cap (drains, restores and
repairs may: they are exempt), and the bound still bounds the plan, whatever moves the other VMs made today."""

from __future__ import annotations

import dataclasses

from hypothesis import assume, given
from hypothesis import strategies as st

from balancerd.config import PolicyConfig
from balancerd.model import ClusterSnapshot, Forecast, Purpose
from balancerd.optimize import Limits, plan
from tests.property.test_plan_invariants import SETTINGS, clusters

Case = tuple[ClusterSnapshot, Forecast, PolicyConfig]


@st.composite
def limited(draw: st.DrawFn) -> tuple[Case, Limits]:
    case = draw(clusters())
    names = sorted(vm.name for vm in case[0].vms)
    assume(names)
    capped = draw(st.lists(st.sampled_from(names), unique=True))
    once = draw(st.lists(st.sampled_from([n for n in names if n not in capped] or names), unique=True))
    allowed = draw(st.frozensets(st.sampled_from(list(Purpose))))
    recent = sorted({**{vm: 1 for vm in once if vm not in capped}, **{vm: 2 for vm in capped}}.items())
    snap, forecast, policy = case
    strategy = draw(st.sampled_from(["balance", "consolidate"]))
    policy = dataclasses.replace(policy, max_moves_per_vm_per_day=2, strategy=strategy)
    return (snap, forecast, policy), Limits(allowed, ("held for the test",), tuple((vm, 2) for vm in sorted(capped)),
                                            tuple(recent))


@SETTINGS
@given(limited())
def test_only_allowed_purposes_start_and_capped_vms_are_not_balanced(drawn: tuple[Case, Limits]) -> None:
    (snap, forecast, policy), limits = drawn
    result = plan(snap, forecast, policy, limits=limits)
    capped = dict(limits.capped)
    assert all(m.purpose in limits.allowed for m in result.moves), result.moves
    assert not [m for m in result.moves if m.purpose is Purpose.BALANCE and m.vm in capped]
    assert result.objective >= result.lower_bound - 1e-9
    if limits.allowed != frozenset(Purpose):
        assert "held for the test" in result.notes

