"""service.status drains: what `balancerctl drain --wait` follows (VMs and memory left, blocked, failures)."""

from __future__ import annotations

from balancerd.journal import JournalEntry
from balancerd.model import CycleReport, InFlight, Move, MoveKind, Outcome, Plan, Resources, Skip
from balancerd.service import report, status
from tests.builders import host, snapshot, vm


def _report() -> CycleReport:
    hosts = (host("a", 8000, 8192, maintenance=True), host("b", 8000, 8192))
    vms = [vm(name, on, 1000, mem, usage=Resources(100, mem))
           for name, on, mem in (("v1", "a", 1024), ("v2", "a", 2048), ("v3", "a", 512), ("w", "b", 4096))]
    snap = snapshot(hosts, vms, at=50.0)
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
