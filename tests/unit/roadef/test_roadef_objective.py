"""Tests for balancerd.roadef.objective: every cost term and constraint on a hand-made instance."""

from __future__ import annotations

import numpy as np

from balancerd.roadef.instance import Instance, IntArray
from balancerd.roadef.objective import Cost, cost, is_feasible, objective, transient_usage, violations


def _a(*machines: int) -> IntArray:
    return np.array(machines, dtype=np.int64)


def test_original_cost_is_balance_only(tiny: Instance, tiny_original: IntArray) -> None:
    # available (C - U): m0 (4, 5) -> 2*4-5 = 3; m1 (3, 8) -> 0; m2 (6, 6) -> 6; (3 + 0 + 6) * 7 = 63
    assert cost(tiny, tiny_original, tiny_original) == Cost(0, 63, 0, 0, 0)
    assert is_feasible(tiny, tiny_original, tiny_original)


def test_every_term_of_a_moved_assignment(tiny: Instance, tiny_original: IntArray) -> None:
    z = _a(0, 2, 1, 0)  # p1 m1->m2, p2 m0->m1, p3 m1->m0
    # load: m2 uses r0 = 3 over safety 2 -> 1 * 10; balance: m0 A=(5,7) 3, m1 A=(5,7) 3, m2 A=(3,5) 1 -> 7*7
    # process moves: pmc 1 + 0 + 5; service moves: s1 moved twice -> 2 * 10; machine moves: 3 * 1 * 100
    assert cost(tiny, tiny_original, z) == Cost(10, 49, 6, 20, 300)
    assert objective(tiny, tiny_original, z) == 385
    assert violations(tiny, tiny_original, z) == []


def test_transient_usage_counts_moved_process_on_both_machines(tiny: Instance, tiny_original: IntArray) -> None:
    w = _a(1, 0, 0, 1)  # p0 m0->m1, p1 m1->m0
    trans = transient_usage(tiny, tiny_original, w)
    assert trans[1, 0] == 4 + 3 + 1  # p0 now, p1 and p3 originally
    assert violations(tiny, tiny_original, w) == ["capacity: machine 1 resource 0"]


def test_spread_violation(tiny: Instance, tiny_original: IntArray) -> None:
    y = _a(2, 1, 0, 1)  # s0 on m2 and m1, both location 1
    assert violations(tiny, tiny_original, y) == ["spread: service 0 on 1 < 2 locations"]


def test_conflict_violation(tiny: Instance, tiny_original: IntArray) -> None:
    v = _a(0, 0, 0, 1)
    found = violations(tiny, tiny_original, v)
    assert "conflict: service 0 twice on machine 0" in found
    assert not is_feasible(tiny, tiny_original, v)


def test_dependency_violation(tiny: Instance, tiny_original: IntArray) -> None:
    d = _a(0, 1, 2, 1)  # s1 enters neighbourhood 1, where s0 is absent
    assert violations(tiny, tiny_original, d) == ["dependency: service 1 in neighbourhood 1 without service 0"]


def test_capacity_violation(tiny: Instance, tiny_original: IntArray) -> None:
    full = _a(2, 1, 2, 2)  # m2 r0: 4 + 2 + 1 = 7 > 6 (and s1 twice on m2)
    found = violations(tiny, tiny_original, full)
    assert "capacity: machine 2 resource 0" in found
    assert "conflict: service 1 twice on machine 2" in found
