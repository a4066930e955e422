"""Tests of balancerd.backends.sim.placement: seeded VM sizes and the feasible, skewed initial placement."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from balancerd.backends.sim.placement import VM_TYPES, Demand, draw_sizes, pick_skewed, place
from balancerd.errors import ConfigError


def test_draw_sizes_is_deterministic_and_uses_known_types() -> None:
    first = draw_sizes(200, 32, 131_072, random.Random(3))
    again = draw_sizes(200, 32, 131_072, random.Random(3))
    assert first == again
    assert {(d.vcpus, d.memory_mib) for d in first} == {(t.vcpus, t.memory_mib) for t in VM_TYPES}
    assert all(40 <= d.mem_used_pct <= 85 for d in first)
    assert all(0 <= d.dirty_rate_mib_s < 1000 for d in first)


def test_draw_sizes_keeps_to_types_that_fit_a_host() -> None:
    sizes = draw_sizes(100, 2, 5000, random.Random(1))
    assert {(d.vcpus, d.memory_mib) for d in sizes} == {(1, 2048), (2, 4096)}


def test_pick_skewed_marks_the_share_asked() -> None:
    assert sum(pick_skewed(100, 0.25, random.Random(0))) == 25
    assert not any(pick_skewed(10, 0.0, random.Random(0)))
    assert all(pick_skewed(10, 1.0, random.Random(0)))


def test_round_robin_without_skew() -> None:
    demands = [Demand(1000, 100)] * 6
    assert place(demands, [10_000] * 3, [1000] * 3, [False] * 6) == [0, 1, 2, 0, 1, 2]


def test_skewed_vms_fill_the_first_third_then_spill() -> None:
    demands = [Demand(1000, 0)] * 8
    where = place(demands, [3000] * 6, [1000] * 6, [True] * 8)
    assert sorted(where[:6]) == [0, 0, 0, 1, 1, 1]
    assert all(host >= 2 for host in where[6:])


def test_cpu_demand_at_start_must_fit_too() -> None:
    demands = [Demand(10, 600)] * 2
    assert place(demands, [10_000] * 2, [1000] * 2, [True, True]) == [0, 1]


def test_too_much_memory_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="need 3000 MiB") as info:
        place([Demand(1500, 0)] * 2, [2000], [1000], [False] * 2)
    assert info.value.key == "sim.vms"


def test_fragmented_fit_failure_names_the_vm() -> None:
    with pytest.raises(ConfigError, match="VM #3"):
        place([Demand(600, 0)] * 3, [1000, 1000], [1000] * 2, [False] * 3)


@settings(max_examples=60, deadline=None)
@given(
    mem=st.lists(st.integers(1, 50), min_size=1, max_size=40),
    hosts=st.integers(1, 8),
    skew=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_every_successful_placement_fits(mem: list[int], hosts: int, skew: float, seed: int) -> None:
    rng = random.Random(seed)
    demands = [Demand(m, rng.randint(0, 40)) for m in mem]
    skewed = pick_skewed(len(demands), skew, rng)
    try:
        where = place(demands, [100] * hosts, [100] * hosts, skewed)
    except ConfigError:
        where = []  # no placement fits (demands has at least one VM): nothing to check
    assume(where)
    for host in range(hosts):
        mine = [d for d, h in zip(demands, where, strict=True) if h == host]
        assert sum(d.memory_mib for d in mine) <= 100
        assert sum(d.cpu_m for d in mine) <= 100
