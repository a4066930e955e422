"""Tests of balancerd.simulate.cluster: VM sizing, trace-driven demand and the initial placement."""

from __future__ import annotations

import numpy as np
import pytest

from balancerd.config import ClusterFile, ClusterHostConfig, ClusterVmConfig
from balancerd.errors import ConfigError
from balancerd.simulate.cluster import TraceDemand, build, from_described, place
from balancerd.simulate.power import HP_ML110_G4

from .conftest import tiny_preset, workload


def test_vm_usage_in_millicores_is_trace_percent_of_its_mips() -> None:
    c = build(workload([[50, 100], [20, 40]]), tiny_preset(), origin=0.0)
    big, small = c.vms
    assert (big.vcpus, big.memory_mib, small.vcpus, small.memory_mib) == (1, 1024, 1, 512)
    assert callable(big.cpu_pct) and callable(small.cpu_pct)
    # usage (millicores) = vcpus * 1000 * pct / 100 = trace % x MIPS / 100
    assert big.vcpus * 10 * big.cpu_pct(0.0) == pytest.approx(500)
    assert small.vcpus * 10 * small.cpu_pct(300.0) == pytest.approx(0.4 * 500)
    assert c.demand.tolist() == [[500, 1000], [100, 200]]


def test_demand_is_a_step_function_that_holds_its_ends() -> None:
    d = TraceDemand([1.0, 2.0, 3.0], origin=100.0, step_s=10)
    assert [d(50.0), d(100.0), d(109.9), d(110.0), d(125.0), d(1e6)] == [1.0, 1.0, 1.0, 2.0, 3.0, 3.0]


def test_hosts_get_their_type_capacity_and_overcommitted_memory() -> None:
    c = build(workload([[10], [10]]), tiny_preset(hosts=3, overcommit=4), origin=0.0)
    assert c.host_mips.tolist() == [2000, 4000, 2000]
    assert [h.memory_mib for h in c.hosts] == [16384] * 3
    assert c.host_ram_mib.tolist() == [4096] * 3
    assert c.link_mib_s == 62


def test_power_aware_best_fit_packs_before_switching_hosts_on() -> None:
    power = np.asarray([HP_ML110_G4] * 3)
    where = place(np.asarray([300.0, 200.0, 100.0]), np.asarray([512, 512, 512]), np.asarray([1000.0] * 3),
                  np.asarray([4096] * 3), power)
    assert len(set(where.tolist())) == 1


def test_placement_respects_cpu_and_ram() -> None:
    power = np.asarray([HP_ML110_G4] * 3)
    by_cpu = place(np.asarray([600.0, 600.0]), np.asarray([10, 10]), np.asarray([1000.0] * 3),
                   np.asarray([4096] * 3), power)
    by_ram = place(np.asarray([1.0, 1.0]), np.asarray([3000, 3000]), np.asarray([1000.0] * 3),
                   np.asarray([4096] * 3), power)
    assert by_cpu[0] != by_cpu[1] and by_ram[0] != by_ram[1]


def test_too_few_hosts_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="too few hosts"):
        place(np.asarray([900.0, 900.0]), np.asarray([1, 1]), np.asarray([1000.0]), np.asarray([4096]),
              np.asarray([HP_ML110_G4]))


def test_a_described_cluster_keeps_its_placement_and_follows_the_trace_series_in_turn() -> None:
    described = ClusterFile(hosts=(ClusterHostConfig("h1", 4, 8192), ClusterHostConfig("h2", 2, 4096)),
                            vms=(ClusterVmConfig("a", "h2", 1, 1024), ClusterVmConfig("b", "h1", 2, 2048),
                                 ClusterVmConfig("c", "h2", 1, 512)))
    cluster = from_described(workload([[10.0, 20.0], [50.0, 50.0]]), described, 0.0, 100)
    assert [h.name for h in cluster.hosts] == ["h1", "h2"] and list(cluster.placement) == [1, 0, 1]
    assert list(cluster.host_mips) == [4000.0, 2000.0] and cluster.link_mib_s == 100
    assert cluster.demand.tolist() == [[100.0, 200.0], [1000.0, 1000.0], [100.0, 200.0]]  # c runs series 0 again
    assert [vm.memory_mib for vm in cluster.vms] == [1024, 2048, 512]
    assert callable(cluster.vms[0].cpu_pct) and cluster.vms[0].cpu_pct(300.0) == 20.0
