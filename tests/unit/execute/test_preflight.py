from __future__ import annotations

import calendar

from balancerd.backends.base import Check, MoveFacts, VmPolicy
from balancerd.config import MigrationConfig, NetworkMapConfig
from balancerd.execute.preflight import Settings, decide, network_pairs, probe_request
from balancerd.model import Move, MoveKind

NOON = float(calendar.timegm((2026, 11, 26, 12, 0, 0)))
MOVE = Move("vm", "h1", "h2", MoveKind.LIVE, "test", 1.0, 1024)
WINDOW = MigrationConfig(maintenance_windows=("11:00-13:00",))


def facts(**kw: object) -> MoveFacts:
    base: dict[str, object] = {"vm": "vm", "running": True, "memory_mib": 1024, "dirty_rate_mib_s": 0,
                               "policy": VmPolicy(), "dest_free_mib": 4096,
                               "checks": (Check("destination reachable", True, "ok"),)}
    base.update(kw)
    return MoveFacts(**base)  # type: ignore[arg-type]


def test_plain_live_move_passes_and_carries_the_policy() -> None:
    settings = Settings(migration=MigrationConfig(postcopy=True, bandwidth_mib_s=100))
    decision = decide(MOVE, facts(), settings, 0, NOON)
    assert decision.skip_reason is None and decision.request is not None
    req = decision.request
    assert (req.kind, req.bandwidth_mib_s, req.max_downtime_ms, req.auto_converge, req.postcopy) == (
        MoveKind.LIVE, 100, 100, True, True)
    assert [c.name for c in decision.checks] == ["destination reachable", "kind", "capacity", "downtime tolerance"]


def test_capacity_counts_moves_in_flight() -> None:
    decision = decide(MOVE, facts(dest_free_mib=2000), Settings(), 1000, NOON)
    assert decision.request is None
    assert "capacity" in str(decision.skip_reason) and "1000 MiB of moves in flight" in str(decision.skip_reason)


def test_backend_check_failure_skips_with_its_reason() -> None:
    bad = facts(checks=(Check("cpu compatible", False, "h2: the VM's CPU is incompatible"),))
    decision = decide(MOVE, bad, Settings(), 0, NOON)
    assert decision.request is None and "cpu compatible: h2: the VM's CPU is incompatible" in str(decision.skip_reason)


def test_low_tolerance_is_not_moved_live_but_cold_inside_a_window_when_allowed() -> None:
    strict = facts(policy=VmPolicy(max_downtime_ms=20))
    assert "downtime tolerance" in str(decide(MOVE, strict, Settings(), 0, NOON).skip_reason)
    allowed = facts(policy=VmPolicy(max_downtime_ms=20, cold=True))
    decision = decide(MOVE, allowed, Settings(migration=WINDOW), 0, NOON)
    assert decision.request is not None and decision.request.kind is MoveKind.COLD
    assert decision.request.shutdown_timeout_s == WINDOW.cold_shutdown_timeout_s


def test_not_live_migratable_moves_cold_only_inside_a_window() -> None:
    pinned = facts(policy=VmPolicy(live=False))
    outside = decide(MOVE, pinned, Settings(), 0, NOON)
    assert outside.request is None and "only inside a maintenance window" in str(outside.skip_reason)
    inside = decide(MOVE, pinned, Settings(migration=WINDOW), 0, NOON)
    assert inside.request is not None and inside.request.kind is MoveKind.COLD
    refused = decide(MOVE, facts(policy=VmPolicy(live=False, cold=False)), Settings(migration=WINDOW), 0, NOON)
    assert refused.request is None


def test_shut_off_vm_moves_cold_without_shutdown_and_local_disks_make_a_storage_move() -> None:
    off = decide(MOVE, facts(running=False), Settings(), 0, NOON).request
    assert off is not None and off.kind is MoveKind.COLD and off.shutdown_timeout_s == 0
    disks = decide(MOVE, facts(local_disks=("vda",)), Settings(), 0, NOON).request
    assert disks is not None and disks.kind is MoveKind.STORAGE and disks.copy_disks == ("vda",)


def test_network_map_applies_per_destination_host_group() -> None:
    rows = (NetworkMapConfig("site-h1", "site-h2", ("h2", "h3")), NetworkMapConfig("site-h1", "other", ("*",)),
            NetworkMapConfig("br0", "br1", ("x*",)))
    assert network_pairs(rows, "h2") == (("site-h1", "site-h2"),)
    assert network_pairs(rows, "h9") == (("site-h1", "other"),)
    assert network_pairs(rows, "x1") == (("site-h1", "other"), ("br0", "br1"))
    assert probe_request(MOVE, Settings(network_map=rows)).network_map == (("site-h1", "site-h2"),)


def test_cold_move_with_local_disks_is_refused() -> None:
    decision = decide(MOVE, facts(running=False, local_disks=("vda",)), Settings(), 0, NOON)
    assert decision.request is None and "cannot copy the local disks vda" in str(decision.skip_reason)
