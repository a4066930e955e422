"""Unit tests for balancerd.optimize.optimizer (plan assembly, hysteresis, score) and the strategies."""

from __future__ import annotations

import dataclasses
import math

from balancerd.config import PolicyConfig
from balancerd.model import Forecast, Resources, VmForecast
from balancerd.optimize import plan, score
from balancerd.optimize.balance import balance
from balancerd.optimize.drain import drain
from balancerd.optimize.state import ClusterState
from balancerd.optimize.steps import movable
from tests.builders import grid, host, snapshot, vm


def test_plan_fields() -> None:
    result = plan(grid([[3000, 3000, 3000], [1000]], seq=42, at=99.5), Forecast(300), PolicyConfig())
    assert result.snapshot_seq == 42 and result.created_at == 99.5
    assert result.strategy == "balance"
    assert result.moves and result.score_after > result.score_before
    assert all(m.memory_mib == 1024 and m.gain >= 0.01 for m in result.moves)


def test_score_is_minus_stdev_of_utilisation() -> None:
    got = score(grid([[8000], [2000]]), Forecast(300), PolicyConfig(headroom_pct=10))
    assert math.isclose(got, -0.3)
    overloaded = score(grid([[9500], [500]]), Forecast(300), PolicyConfig(headroom_pct=10))
    assert math.isclose(overloaded, -(0.45 + 10 * 0.05))


def test_hysteresis_band_gives_empty_plan_with_note() -> None:
    result = plan(grid([[3000], [2500]]), Forecast(300), PolicyConfig(imbalance_threshold_pct=10, min_gain=0))
    assert result.empty
    assert "within the threshold of 10" in result.notes[0]
    outside = plan(grid([[3000], [1500]]), Forecast(300), PolicyConfig(imbalance_threshold_pct=10))
    assert outside.notes == ()  # outside the band; moving the only VM would not help, so still no move
    assert outside.empty


def test_min_gain_blocks_small_improvements() -> None:
    snap = grid([[3000, 400], [2000]])
    assert plan(snap, Forecast(300), PolicyConfig(imbalance_threshold_pct=0, min_gain=0.0)).moves
    assert plan(snap, Forecast(300), PolicyConfig(imbalance_threshold_pct=0, min_gain=0.5)).empty


def test_forecast_point_drives_balance_and_upper_capacity() -> None:
    snap = grid([[1000, 1000], [1000]])
    hot = Forecast(300, (VmForecast("h0v0", Resources(6000, 1024), Resources(6000, 1024)),))
    assert plan(snap, hot, PolicyConfig()).moves[0].vm == "h0v1"
    too_big = Forecast(300, (VmForecast("h0v0", Resources(6000, 1024), Resources(9500, 1024)),
                             VmForecast("h0v1", Resources(1000, 1024), Resources(8500, 1024))))
    result = plan(snap, too_big, PolicyConfig(headroom_pct=10))
    assert result.empty  # no VM fits h1's usable cpu by its upper forecast


def test_drain_then_balance_strategy_and_budget() -> None:
    snap = grid([[4000, 4000], [500], [500, 500, 500]], maintenance=("h2",))
    result = plan(snap, Forecast(300), PolicyConfig(max_moves_per_cycle=4))
    assert result.strategy == "drain+balance"
    assert [m.source for m in result.moves[:3]] == ["h2"] * 3
    assert result.moves[3].reason.startswith("balance: h0")
    assert len(plan(snap, Forecast(300), PolicyConfig(max_moves_per_cycle=2)).moves) == 2


def test_drain_places_largest_first() -> None:
    snap = grid([[], [], [1000, 3000, 2000]], maintenance=("h2",))
    state = ClusterState(snap, Forecast(300), PolicyConfig(), frozenset())
    moves, skips = drain(state, 10, ["h2"])
    assert [m.vm for m in moves] == ["h2v1", "h2v2", "h2v0"]
    assert [m.dest for m in moves] == ["h0", "h1", "h1"] and skips == []


def test_balance_skips_cold_vms_and_uses_swaps() -> None:
    hosts = (host("a", 10000, 6144), host("b", 20000, 6144))
    vms = (vm("hot", "a", 9000, 4096), vm("cold", "a", 500, 1024, live=False), vm("idle", "b", 1000, 4096))
    state = ClusterState(snapshot(hosts, vms), Forecast(300), PolicyConfig(headroom_pct=0), frozenset())
    assert [v.name for v in movable(state, state.hosts["a"])] == ["hot"]
    moves = balance(state, 10)
    assert {(m.vm, m.dest) for m in moves} == {("hot", "b"), ("idle", "a")}
    assert all(m.reason.startswith("balance (swap): ") for m in moves)
    assert balance(ClusterState(snapshot(hosts, vms), Forecast(300),
                                PolicyConfig(headroom_pct=0), frozenset()), 1) == []


def test_migration_cost_is_figured_at_the_speed_a_migration_gets() -> None:
    base = grid([[3000, 3000, 3000], [1000]])
    snap = dataclasses.replace(base, vms=tuple(dataclasses.replace(v, dirty_rate_mib_s=50) for v in base.vms))
    fast = plan(snap, Forecast(300), PolicyConfig(), migration_mib_s=1000)
    slow = plan(snap, Forecast(300), PolicyConfig(), migration_mib_s=100)
    assert fast.moves and len(fast.moves) == len(slow.moves)
    assert fast.migration_mib == len(fast.moves) * int(1024 * 1000 / 950)
    assert slow.migration_mib == len(slow.moves) * int(1024 * 100 / 50)
