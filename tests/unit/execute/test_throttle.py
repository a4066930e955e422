"""Tests of the throttle: per-host in/out slots, the cluster cap and the rolling hourly budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancerd.clock import FakeClock
from balancerd.config import ThrottleConfig
from balancerd.execute import Throttle


def throttle(**limits: int) -> tuple[Throttle, FakeClock]:
    clock = FakeClock(0.0)
    return Throttle(ThrottleConfig(**limits), clock), clock  # type: ignore[arg-type]


def test_per_host_out_slots() -> None:
    slots, _ = throttle(per_host_out=2, per_host_in=4, cluster_max=10)
    slots.acquire("h1", "a")
    slots.acquire("h1", "b")
    assert not slots.slots_free("h1", "c")
    assert slots.slots_free("h2", "c")
    slots.release("h1", "a")
    assert slots.slots_free("h1", "c")


def test_per_host_in_slots() -> None:
    slots, _ = throttle(per_host_in=1, per_host_out=4, cluster_max=10)
    slots.acquire("a", "h1")
    assert not slots.slots_free("b", "h1")
    assert slots.slots_free("b", "h2")


def test_cluster_cap() -> None:
    slots, _ = throttle(cluster_max=2)
    slots.acquire("a", "b")
    slots.acquire("c", "d")
    assert slots.running == 2
    assert not slots.slots_free("e", "f")
    with pytest.raises(RuntimeError):
        slots.acquire("e", "f")


def test_budget_is_a_rolling_hour() -> None:
    slots, clock = throttle(migrations_per_hour=2, cluster_max=10)
    slots.acquire("a", "b")
    clock.advance(1800)
    slots.acquire("c", "d")
    slots.release("a", "b")
    slots.release("c", "d")
    assert slots.budget_left() == 0  # releasing does not give budget back
    clock.advance(1800)
    assert slots.budget_left() == 1
    clock.advance(1800)
    assert slots.budget_left() == 2


def test_release_without_acquire_is_a_bug() -> None:
    slots, _ = throttle()
    with pytest.raises(RuntimeError):
        slots.release("a", "b")


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("wxyz"), st.booleans()), max_size=60))
def test_limits_hold_under_any_sequence(ops: list[tuple[str, str, bool]]) -> None:
    slots, _ = throttle(per_host_in=2, per_host_out=1, cluster_max=3, migrations_per_hour=1000)
    held: list[tuple[str, str]] = []
    for source, dest, take in ops:
        if take and slots.slots_free(source, dest):
            slots.acquire(source, dest)
            held.append((source, dest))
        elif not take and held:
            slots.release(*held.pop(0))
        assert len(held) == slots.running <= 3
        assert all(sum(1 for s, _ in held if s == h) <= 1 for h in "abcd")
        assert all(sum(1 for _, d in held if d == h) <= 2 for h in "wxyz")
