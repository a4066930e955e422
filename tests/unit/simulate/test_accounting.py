"""Tests of balancerd.simulate.accounting: energy, SLATAH, PDM, ping-pong moves on hand-made clusters."""

from __future__ import annotations

import pytest

from balancerd.clock import FakeClock
from balancerd.model import Move, MoveKind, MoveResult, Outcome
from balancerd.simulate.accounting import Accountant
from balancerd.simulate.cluster import Cluster, build

from .conftest import tiny_preset, workload

HOUR = 3600.0


def _cluster(percent: list[list[float]], hosts: int = 2) -> Cluster:
    return build(workload(percent), tiny_preset(hosts=hosts), origin=0.0)


def _move(c: Cluster, vm: int, dest: str) -> Move:
    spec = c.vms[vm]
    return Move(spec.name, c.hosts[int(c.placement[vm])].name, dest, MoveKind.LIVE, "test", 0.0, spec.memory_mib)


def _migrate(acc: Accountant, clock: FakeClock, move: Move, seconds: float) -> None:
    start = clock.now()
    acc.on_event("started", move, None)
    clock.advance(seconds)
    acc.on_event("succeeded", move, MoveResult(move, Outcome.SUCCEEDED, start, clock.now(), bytes_transferred=0))


def test_energy_of_one_active_host_follows_its_power_curve_and_idle_hosts_are_off() -> None:
    c = _cluster([[50.0], [0.0]])  # vm0: 500 of host01's 2000 MIPS -> 25 %; both VMs on host01
    assert set(c.placement.tolist()) == {0}
    acc = Accountant(c, FakeClock(0.0), idle_off=True)
    acc.advance_to(300.0)
    expected_w = 92.6 + (96.0 - 92.6) * 0.5  # G4 at 25 %: half-way between its 20 % and 30 % points
    assert acc.totals().energy_kwh == pytest.approx(expected_w * 300 / 3.6e6)
    assert acc.totals().mean_active_hosts == pytest.approx(1.0)


def test_without_idle_off_empty_hosts_idle_at_their_zero_percent_power() -> None:
    c = _cluster([[0.0]], hosts=2)
    acc = Accountant(c, FakeClock(0.0), idle_off=False)
    acc.advance_to(300.0)
    assert acc.totals().energy_kwh == pytest.approx((86.0 + 93.7) * 300 / 3.6e6)


def test_slatah_counts_active_host_time_above_capacity_and_pdm_stays_zero_without_moves() -> None:
    # one 2000-MIPS host: step 0 requests 1000 + 500 (fits), step 1 requests 2000 + 500 (over), step 2 exactly 2000
    c = _cluster([[100.0, 200.0, 150.0], [100.0, 100.0, 100.0]], hosts=1)
    acc = Accountant(c, FakeClock(0.0))
    acc.advance_to(900.0)
    t = acc.totals()
    assert t.slatah == pytest.approx(1 / 3) and t.pdm == 0.0 and t.slav == 0.0
    assert acc.series()["sla_violation_pct"] == pytest.approx([0.0, 100.0, 0.0])


def test_a_migration_costs_ten_percent_of_the_vms_cpu_while_it_runs_and_moves_it() -> None:
    c = _cluster([[100.0], [100.0]])
    clock = FakeClock(0.0)
    acc = Accountant(c, clock)
    clock.advance(100.0)
    _migrate(acc, clock, _move(c, 0, "host02"), 20.0)
    acc.advance_to(300.0)
    t = acc.totals()
    requested = (1000 + 500) * 300.0
    assert t.pdm == pytest.approx(0.1 * 1000 * 20.0 / requested)
    assert t.migrations == 1 and t.gib_moved == pytest.approx(1024 / 1024)
    assert acc.where.tolist() == [1, 0]
    assert t.moves_per_vm_per_day == pytest.approx(0.5 / (300 / 86_400))


def test_returning_within_an_hour_is_a_ping_pong_move_and_later_is_not() -> None:
    c = _cluster([[10.0] * 40, [10.0] * 40])
    clock = FakeClock(0.0)
    acc = Accountant(c, clock)
    there = _move(c, 0, "host02")
    back = Move(there.vm, "host02", "host01", MoveKind.LIVE, "test", 0.0, there.memory_mib)
    _migrate(acc, clock, there, 10.0)
    clock.advance(600.0)
    _migrate(acc, clock, back, 10.0)
    assert acc.totals().ping_pong_moves == 1
    clock.advance(2 * HOUR)
    _migrate(acc, clock, there, 10.0)
    clock.advance(2 * HOUR)
    _migrate(acc, clock, back, 10.0)
    assert acc.totals().ping_pong_moves == 1
    assert acc.totals().max_moves_per_vm_day == 4  # one VM, four moves, all on the first day


def test_the_most_moves_of_one_vm_on_one_day_counts_days_from_the_trace_start() -> None:
    c = _cluster([[10.0] * 600, [10.0] * 600])
    clock = FakeClock(0.0)
    acc = Accountant(c, clock)
    assert acc.totals().max_moves_per_vm_day == 0
    there = _move(c, 0, "host02")
    back = Move(there.vm, "host02", "host01", MoveKind.LIVE, "test", 0.0, there.memory_mib)
    other = _move(c, 1, "host01")
    clock.advance(86_000.0)
    _migrate(acc, clock, there, 10.0)   # day 0
    clock.advance(1_000.0)
    _migrate(acc, clock, back, 10.0)    # day 1
    _migrate(acc, clock, other, 10.0)   # day 1, another VM
    assert acc.totals().max_moves_per_vm_day == 1
    clock.advance(100.0)
    _migrate(acc, clock, there, 10.0)   # day 1 again
    assert acc.totals().max_moves_per_vm_day == 2


def test_failed_migrations_leave_the_vm_where_it_was() -> None:
    c = _cluster([[10.0], [10.0]])
    clock = FakeClock(0.0)
    acc = Accountant(c, clock)
    move = _move(c, 0, "host02")
    acc.on_event("started", move, None)
    clock.advance(5.0)
    acc.on_event("failed", move, MoveResult(move, Outcome.FAILED, 0.0, 5.0, "boom"))
    t = acc.totals()
    assert (t.migrations, t.failed_migrations, acc.where.tolist()) == (0, 1, [0, 0])


def test_time_after_the_trace_is_not_counted() -> None:
    c = _cluster([[10.0], [10.0]])
    acc = Accountant(c, FakeClock(0.0))
    acc.advance_to(10_000.0)
    assert acc.totals().simulated_seconds == 300.0
    series = acc.series()
    assert len(series["active_hosts"]) == 1 and series["active_hosts"][0] == pytest.approx(1.0)
