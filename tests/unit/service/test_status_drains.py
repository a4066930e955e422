"""service.status drains: what `balancerctl drain --wait` follows (VMs and memory left, blocked, failures)."""

from __future__ import annotations

from balancerd.journal import JournalEntry
from balancerd.model import (
    ClusterSnapshot,
    CycleReport,
    Host,
    InFlight,
    Move,
    MoveKind,
    Outcome,
    Plan,
    Resources,
    Skip,
    Vm,
)
from balancerd.service import report, status


def _vm(name: str, host: str, mem: int) -> Vm:
    return Vm(name, host, Resources(1000, mem), Resources(100, mem))


def _report() -> CycleReport:
    hosts = (Host("a", Resources(8000, 8192), maintenance=True), Host("b", Resources(8000, 8192)))
    vms = (_vm("v1", "a", 1024), _vm("v2", "a", 2048), _vm("v3", "a", 512), _vm("w", "b", 4096))
    snap = ClusterSnapshot(1, 50.0, hosts, vms)
    plan = Plan(1, 50.0, (Move("v1", "a", "b", MoveKind.LIVE, "drain", 0.0, 1024),), 0.0, 0.0,
                skipped=(Skip("v3", ("no host has room",)), Skip("w", ("balanced",))))
    return CycleReport(1, "enforce", 50.0, 0.1, snap, plan, (), report.utilisation(snap), 0.0,
                       report.drain_remaining(snap))


def _entry(vm: str, source: str, outcome: Outcome) -> JournalEntry:
    return JournalEntry(1, 1, vm, source, "b", MoveKind.LIVE, 40.0, 45.0, outcome, "link down")


def test_drain_counts_what_is_left() -> None:
    doc = status.render(_report(), (InFlight("v1", "a", "b"),), 1, None, frozenset({"a"}))
    assert doc["drains"] == {"a": {"vms": 3, "mem_mib": 3584, "reachable": True, "planned": 1, "in_flight": 1,
                                   "blocked": [{"vm": "v3", "reasons": ["no host has room"]}], "failures": []}}
    assert doc["hosts"][0]["vms_mem_mib"] == 3584


def test_vms_moved_off_since_the_snapshot_no_longer_count() -> None:
    doc = status.render(_report(), (), 1, None, frozenset({"a"}), moved_off=frozenset({"v1", "v2"}))
    drain = doc["drains"]["a"]
    assert (drain["vms"], drain["mem_mib"], drain["planned"]) == (1, 512, 0)


def test_only_failed_or_aborted_moves_from_the_host_are_failures() -> None:
    failures = (_entry("v2", "a", Outcome.FAILED), _entry("v1", "a", Outcome.ABORTED),
                _entry("v3", "a", Outcome.SUCCEEDED), _entry("w", "b", Outcome.FAILED))
    doc = status.render(_report(), (), 1, None, frozenset({"a"}), failures=failures)
    assert [(f["vm"], f["outcome"]) for f in doc["drains"]["a"]["failures"]] == [("v2", "failed"), ("v1", "aborted")]
    assert doc["drains"]["a"]["failures"][0] == {"vm": "v2", "dest": "b", "outcome": "failed",
                                                 "detail": "link down", "finished_at": 45.0}


def test_no_maintenance_no_drains() -> None:
    assert status.render(_report(), (), 1, None, frozenset())["drains"] == {}
