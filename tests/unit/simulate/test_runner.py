"""Tests of balancerd.simulate.runner: a tiny replay through the real pipeline on a fake clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from balancerd.config import Config, from_table
from balancerd.simulate.cluster import build
from balancerd.simulate.runner import START, Replay, replay_config

from .conftest import tiny_preset, workload

TABLE = {
    "policy": {"strategy": "consolidate", "headroom_pct": 0, "consolidate_target_pct": 100, "cooldown_s": 3600,
               "max_moves_per_cycle": 50},
    "throttle": {"per_host_in": 2, "per_host_out": 2, "cluster_max": 8, "migrations_per_hour": 1000,
                 "poll_interval_s": 1.0},
    "predict": {"method": "ewma", "horizon_s": 300},
}


def _config(tmp_path: Path, **policy: object) -> Config:
    table = {**TABLE, "policy": {**TABLE["policy"], **policy}}
    return from_table(table, base=tmp_path)


def _spread_cluster() -> tuple[list[list[float]], int]:
    # 8 VMs, light load: they start spread by RAM (4 GiB hosts, 1 GiB VMs... placement packs by power) and
    # the load rises in the middle
    percent = [[10.0] * 6 + [60.0] * 6 for _ in range(4)] + [[20.0] * 12 for _ in range(4)]
    return percent, 6


def test_config_for_the_replay_forces_enforce_interval_and_capacities(tmp_path: Path) -> None:
    c = build(workload([[10.0]]), tiny_preset(hosts=2), START)
    config = replay_config(_config(tmp_path), c, "balance", tmp_path)
    assert (config.mode, config.interval_s, config.policy.strategy) == ("enforce", 300.0, "balance")
    assert [(h.name, h.cpu_m, h.mem_mib) for h in config.hosts] == [("host01", 2000, 16384), ("host02", 4000, 16384)]
    assert config.collect.node_overhead is False and config.migration.link_mib_s == 62
    assert config.paths.maintenance_file == tmp_path / "maintenance"


def test_a_replay_runs_every_step_and_its_accounting_follows_the_simulation(tmp_path: Path) -> None:
    percent, hosts = _spread_cluster()
    c = build(workload(percent), tiny_preset(hosts=hosts, overcommit=4), START)
    replay = Replay(c, replay_config(_config(tmp_path), c, None, tmp_path))
    result = replay.run()
    assert len(result.steps) == 12
    assert result.totals.simulated_seconds == 12 * 300
    placement = replay.backend.placement()
    assert [c.hosts[h].name for h in replay.accountant.where] == [placement[vm.name] for vm in c.vms]
    assert result.totals.migrations == sum(r.succeeded for r in result.steps)
    assert result.totals.ping_pong_moves == 0
    assert replay.clock.now() >= START + 11 * 300


def test_consolidation_packs_vms_when_load_drops_and_switches_hosts_off(tmp_path: Path) -> None:
    # 4 VMs of 1000 MIPS at 90 % need 3 hosts (2000 / 4000 MIPS) at first; then load drops to 10 %
    percent = [[90.0] * 2 + [10.0] * 18 for _ in range(4)]
    c = build(workload(percent), tiny_preset(hosts=4, overcommit=4), START)
    assert len(set(c.placement.tolist())) >= 2
    result = Replay(c, replay_config(_config(tmp_path, cooldown_s=600), c, "consolidate", tmp_path)).run()
    active = result.accountant.series()["active_hosts"]
    assert result.totals.migrations >= 1
    assert active[-1] < active[0]
    spread = Replay(c, replay_config(_config(tmp_path), c, "balance", tmp_path)).run().totals
    assert result.totals.energy_kwh < spread.energy_kwh


def test_progress_is_reported_per_step(tmp_path: Path) -> None:
    c = build(workload([[10.0] * 3]), tiny_preset(hosts=2), START)
    seen: list[tuple[int, int]] = []
    Replay(c, replay_config(_config(tmp_path), c, None, tmp_path), progress=lambda d, t: seen.append((d, t))).run()
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("strategy", ["consolidate", "balance"])
def test_both_modes_replay(tmp_path: Path, strategy: str) -> None:
    percent, hosts = _spread_cluster()
    c = build(workload(percent), tiny_preset(hosts=hosts), START)
    result = Replay(c, replay_config(_config(tmp_path), c, strategy, tmp_path)).run()
    assert result.totals.energy_kwh > 0 and len(result.steps) == 12


def test_a_step_whose_start_passed_during_the_moves_gets_no_cycle(tmp_path: Path) -> None:
    # 4 big VMs at 90 % spread over hosts, then idle: consolidation moves take longer than a 10-second step
    percent = [[90.0] * 2 + [10.0] * 10 for _ in range(4)]
    c = build(workload(percent, step_s=10), tiny_preset(hosts=4), START)
    config = replay_config(_config(tmp_path), c, "consolidate", tmp_path)
    result = Replay(c, dataclasses.replace(config, throttle=dataclasses.replace(config.throttle, cluster_max=1))).run()
    assert result.late_cycles >= 1
    assert len(result.steps) + result.late_cycles == 12
    starts = [r.at for r in result.steps]
    assert starts == sorted(set(starts))  # never two cycles at the same instant
    assert all((at - START) % 10 == 0 for at in starts)
