"""Unit tests for balancerd.optimize.constraints (each rule gives a reason or None)."""

from __future__ import annotations

from balancerd.config import PolicyConfig
from balancerd.model import ClusterSnapshot, Forecast, Host, InFlight, Resources, Vm
from balancerd.optimize import constraints as c
from balancerd.optimize.state import ClusterState

HOSTS = (
    Host("h1", Resources(10000, 8192)),
    Host("h2", Resources(10000, 8192)),
    Host("down", Resources(10000, 8192), reachable=False),
    Host("maint", Resources(10000, 8192), maintenance=True),
    Host("tiny", Resources(1000, 1024)),
)
VMS = (
    Vm("a", "h1", Resources(2000, 2048), Resources(1500, 2048)),
    Vm("fly", "h1", Resources(1000, 1024), Resources(500, 1024)),
    Vm("lost", "down", Resources(1000, 1024), Resources(500, 1024)),
)


def _state(cooldown: frozenset[str] = frozenset()) -> ClusterState:
    snap = ClusterSnapshot(1, 0.0, HOSTS, VMS, (InFlight("fly", "h1", "h2"),))
    return ClusterState(snap, Forecast(300), PolicyConfig(headroom_pct=10), cooldown)


def _host(name: str) -> Host:
    return next(h for h in HOSTS if h.name == name)


def test_eligible_pair_has_no_reasons() -> None:
    assert c.reasons(VMS[0], _host("h2"), _state()) == ()


def test_each_rule_names_its_reason() -> None:
    state = _state(frozenset({"a"}))
    a, fly, lost = VMS
    assert c.not_in_cooldown(a, _host("h2"), state) == "in cooldown after a recent move (1800 s)"
    assert c.not_in_flight(fly, _host("h2"), state) == "already migrating h1 -> h2"
    assert c.source_reachable(lost, _host("h2"), state) == "its host down is unreachable"
    assert c.not_same_host(a, _host("h1"), state) == "already on h1"
    assert c.dest_reachable(a, _host("down"), state) == "down is unreachable"
    assert c.dest_not_in_maintenance(a, _host("maint"), state) == "maint is in maintenance"
    assert c.cpu_fits(a, _host("tiny"), state) == "tiny lacks cpu: needs 1500 m, 900 m free within 90% of capacity"
    assert c.mem_fits(a, _host("tiny"), state) is not None
    state.moved.add("a")
    assert c.not_moved_yet(a, _host("h2"), state) == "already moved in this plan"


def test_fit_counts_in_flight_vm_on_destination() -> None:
    big = Vm("big", "h1", Resources(1000, 6500), Resources(100, 6500))
    snap = ClusterSnapshot(1, 0.0, HOSTS, (*VMS, big), (InFlight("fly", "h1", "h2"),))
    state = ClusterState(snap, Forecast(300), PolicyConfig(headroom_pct=10), frozenset())
    # h2 usable memory 7372; it already holds the in-flight VM (1024), so 6500 does not fit
    want = "h2 lacks memory: needs 6500 MiB, 6348 MiB free within 90% of capacity"
    assert c.mem_fits(big, _host("h2"), state) == want


def test_all_reasons_are_collected() -> None:
    state = _state(frozenset({"fly"}))
    found = c.reasons(VMS[1], _host("down"), state)
    assert "already migrating h1 -> h2" in found
    assert "in cooldown after a recent move (1800 s)" in found
    assert "down is unreachable" in found
    assert len(found) == 3


def test_drain_rules_ignore_cooldown() -> None:
    assert c.not_in_cooldown not in c.DRAIN_VM_RULES
    assert c.reasons(VMS[0], _host("h2"), _state(frozenset({"a"})), c.DRAIN_VM_RULES) == ()
