"""Unit tests for balancerd.optimize.constraints (each rule gives a reason or None)."""

from __future__ import annotations

from balancerd.config import PolicyConfig
from balancerd.model import Forecast, InFlight, Resources
from balancerd.optimize import constraints as c
from balancerd.optimize.state import ClusterState
from tests.builders import host, snapshot, vm

HOSTS = (
    host("h1", 10000, 8192),
    host("h2", 10000, 8192),
    host("down", 10000, 8192, reachable=False),
    host("maint", 10000, 8192, maintenance=True),
    host("tiny", 1000, 1024),
)
VMS = (
    vm("a", "h1", 2000, 2048, usage=Resources(1500, 2048)),
    vm("fly", "h1", 1000, 1024, usage=Resources(500, 1024)),
    vm("lost", "down", 1000, 1024, usage=Resources(500, 1024)),
)
IN_FLIGHT = (InFlight("fly", "h1", "h2"),)
SNAP = snapshot(HOSTS, VMS, IN_FLIGHT)


def _state(cooldown: frozenset[str] = frozenset()) -> ClusterState:
    return ClusterState(SNAP, Forecast(300), PolicyConfig(headroom_pct=10), cooldown)


def test_eligible_pair_has_no_reasons() -> None:
    assert c.reasons(VMS[0], SNAP.host("h2"), _state()) == ()


def test_each_rule_names_its_reason() -> None:
    state = _state(frozenset({"a"}))
    a, fly, lost = VMS
    assert c.not_in_cooldown(a, SNAP.host("h2"), state) == "in cooldown on h1 after a recent move (1800 s)"
    assert c.not_in_flight(fly, SNAP.host("h2"), state) == "already migrating h1 -> h2"
    assert c.source_reachable(lost, SNAP.host("h2"), state) == "its host down is unreachable"
    assert c.not_same_host(a, SNAP.host("h1"), state) == "already on h1"
    assert c.dest_reachable(a, SNAP.host("down"), state) == "down is unreachable"
    assert c.dest_not_in_maintenance(a, SNAP.host("maint"), state) == "maint is in maintenance"
    assert c.cpu_fits(a, SNAP.host("tiny"), state) == "tiny lacks cpu: needs 1500 m, 900 m free within 90% of capacity"
    assert c.mem_fits(a, SNAP.host("tiny"), state) is not None
    state.moved.add("a")
    assert c.not_moved_yet(a, SNAP.host("h2"), state) == "already moved in this plan (to h1)"


def test_fit_counts_in_flight_vm_on_destination() -> None:
    big = vm("big", "h1", 1000, 6500, usage=Resources(100, 6500))
    snap = snapshot(HOSTS, (*VMS, big), IN_FLIGHT)
    state = ClusterState(snap, Forecast(300), PolicyConfig(headroom_pct=10), frozenset())
    # h2 usable memory 7372; it already holds the in-flight VM (1024), so 6500 does not fit
    want = "h2 lacks memory: needs 6500 MiB, 6348 MiB free within 90% of capacity"
    assert c.mem_fits(big, SNAP.host("h2"), state) == want


def test_all_reasons_are_collected() -> None:
    state = _state(frozenset({"fly"}))
    found = c.reasons(VMS[1], SNAP.host("down"), state)
    assert "already migrating h1 -> h2" in found
    assert "in cooldown on h1 after a recent move (1800 s)" in found
    assert "down is unreachable" in found
    assert len(found) == 3


def test_drain_rules_ignore_cooldown() -> None:
    assert c.not_in_cooldown not in c.DRAIN_VM_RULES
    assert c.reasons(VMS[0], SNAP.host("h2"), _state(frozenset({"a"})), c.DRAIN_VM_RULES) == ()
