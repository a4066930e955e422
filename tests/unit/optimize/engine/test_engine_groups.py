"""Tests for balancerd.optimize.engine.groups: which group rules the engine's model carries, and as what."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from balancerd.model import Forecast
from balancerd.optimize.engine.fromstate import problem
from balancerd.optimize.state import ClusterState
from tests import builders as b

# four hosts in two racks; VM a0..a3 on h0..h3, b0..b3 likewise
HOSTS = [b.host(f"h{i}", 16000, 65536, domain=f"rack{i % 2}") for i in range(4)]
VMS = [b.vm(f"{kind}{i}", f"h{i}", 1000, 1024) for kind in "ab" for i in range(4)]


def _model(rules: list[dict[str, Any]], movable: set[str] | None = None) -> tuple[Any, dict[str, int]]:
    state = ClusterState(b.snapshot(HOSTS, VMS), Forecast(300), b.policy({"rules": rules}), frozenset())
    prob = problem(state, state, set(state.vms) if movable is None else movable)
    return prob.model, {name: p for p, name in enumerate(prob.vms)}


CARRIED = [  # (rules, VMs of one service, distinct hosts, spread_min)
    ([{"kind": "anti_affinity", "vms": ["a0", "a1"]}], ["a0", "a1"], True, 0),
    ([{"kind": "spread", "vms": ["a0", "a1", "a2"], "min_domains": 2}], ["a0", "a1", "a2"], False, 2),
    ([{"kind": "spread", "vms": ["a0", "a2"], "min_domains": 2}], ["a0", "a2"], False, 1),  # one rack today
]


@pytest.mark.parametrize(("rules", "members", "distinct", "spread"), CARRIED)
def test_a_carried_group_is_one_movable_service(rules: list[dict[str, Any]], members: list[str], distinct: bool,
                                                spread: int) -> None:
    model, index = _model(rules)
    services = {int(model.service[index[vm]]) for vm in members}
    assert len(services) == 1
    s = services.pop()
    assert model.is_distinct(s) is distinct
    assert int(model.spread_min[s]) == spread
    assert not any(model.is_frozen(index[vm]) for vm in members)
    assert list(model.location[:4]) == [0, 1, 0, 1]  # failure domains


def test_dependants_depend_on_the_service_of_what_they_need_within_failure_domains() -> None:
    model, index = _model([{"kind": "depends", "vms": ["a0", "a1"], "on": ["b0", "b1"]}])
    members, needs = int(model.service[index["a0"]]), int(model.service[index["b0"]])
    assert model.service[index["a1"]] == members and model.service[index["b1"]] == needs
    assert model.dependencies[members] == (needs,) and model.dependencies[needs] == ()
    assert not model.is_distinct(members) and not model.is_distinct(needs)
    assert list(model.neighborhood[:4]) == [0, 1, 0, 1]


FROZEN = [  # rules under which the model cannot state a VM's every rule: the VMs stay frozen
    ([{"kind": "affinity", "vms": ["a0", "a1"]}], ["a0", "a1"]),
    ([{"kind": "anti_affinity", "vms": ["a0", "a1"]}, {"kind": "spread", "vms": ["a1", "a2"]}], ["a0", "a1", "a2"]),
    ([{"kind": "depends", "vms": ["a0", "b0"], "on": ["b0"]}], ["a0", "b0"]),
    ([{"kind": "anti_affinity", "vms": ["a0", "a1"]}, {"kind": "soft_affinity", "vms": ["a1", "a2"]}],
     ["a0", "a1", "a2"]),
]


@pytest.mark.parametrize(("rules", "frozen"), FROZEN)
def test_a_group_the_model_cannot_state_freezes_its_vms(rules: list[dict[str, Any]], frozen: list[str]) -> None:
    model, index = _model(rules)
    assert [vm for vm in index if model.is_frozen(index[vm])] == frozen


def test_a_vm_balancing_may_not_move_stays_frozen_in_a_carried_group() -> None:
    model, index = _model([{"kind": "anti_affinity", "vms": ["a0", "a1"]}], movable={"a0", "b2"})
    assert [vm for vm in index if not model.is_frozen(index[vm])] == ["a0", "b2"]
    assert model.service[index["a0"]] == model.service[index["a1"]]  # a1 still keeps a0 off its host


def test_vms_outside_groups_are_services_of_their_own() -> None:
    model, index = _model([])
    assert np.unique(model.service[list(index.values())]).shape[0] == len(index)
