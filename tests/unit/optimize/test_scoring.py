"""Unit tests for balancerd.optimize.scoring (the score formulas)."""

from __future__ import annotations

import math
import statistics

from hypothesis import given
from hypothesis import strategies as st

from balancerd.model import POOL_PREFIX, Resources
from balancerd.optimize import scoring as sc


def test_ratio_and_zero_capacity() -> None:
    assert sc.ratio(500, 1000) == 0.5
    assert sc.ratio(0, 0) == 0.0
    assert sc.ratio(3, 0) == 3.0  # anything on a host without capacity is over it


def test_utilisation_is_the_larger_resource() -> None:
    cap = Resources(1000, 2000)
    assert sc.utilisation(900, 200, cap) == 0.9
    assert sc.utilisation(100, 1800, cap) == 0.9
    assert sc.dominant(900, 200, cap) == "cpu"
    assert sc.dominant(100, 1800, cap) == "mem"


def test_overload_only_above_usable() -> None:
    cap, usable = Resources(1000, 1000), Resources(900, 900)
    assert sc.overload(900, 900, usable, cap) == 0.0
    assert math.isclose(sc.overload(1000, 900, usable, cap), sc.OVERLOAD_WEIGHT * 0.1)
    assert math.isclose(sc.overload(1000, 1000, usable, cap), sc.OVERLOAD_WEIGHT * 0.2)


def test_usable_capacity_applies_headroom() -> None:
    assert sc.usable_capacity(Resources(10000, 4096), 10) == Resources(9000, 3686)
    assert sc.usable_capacity(Resources(10000, 4096), 0) == Resources(10000, 4096)


def test_score_is_negated_sum() -> None:
    assert sc.cluster_score(0.2, 0.5) == -0.7
    assert sc.cluster_score(0.0, 0.0) == 0.0


@given(st.lists(st.floats(0, 2, allow_nan=False), max_size=30))
def test_pstdev_matches_statistics(values: list[float]) -> None:
    got = sc.pstdev(len(values), sum(values), sum(v * v for v in values))
    want = statistics.pstdev(values) if values else 0.0
    assert math.isclose(got, want, abs_tol=1e-6)


def test_move_mib_adds_local_pool_disks_to_the_memory_transfer() -> None:
    size = Resources(1000, 1024, ((POOL_PREFIX + "/images", 20000), ("vcpus", 4)))
    assert sc.local_disk_mib(size) == 20000  # named resources that are not pools carry no bytes
    assert sc.move_mib(size, 500, 1000) == 2048 + 20000
    assert sc.move_mib(Resources(1000, 1024), 0, 1000) == 1024
