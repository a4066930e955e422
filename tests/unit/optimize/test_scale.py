"""Scale check of ``optimize.plan``: 1,000 hosts x 20,000 VMs plan the full move budget and improve (slow).

Behaviour only: how long planning takes is measured by ``benchmarks/optimizer_scale.py``, never asserted here
(a wall-clock bound fails under load).
"""

from __future__ import annotations

import random

import pytest

from balancerd.config import PolicyConfig
from balancerd.model import ClusterSnapshot, Forecast, Resources, VmForecast
from balancerd.optimize import plan
from tests.builders import host, snapshot, vm


def big_cluster(hosts: int = 1000, vms: int = 20000, maintenance: int = 0) -> tuple[ClusterSnapshot, Forecast]:
    """A seeded cluster where every seventh host runs hot."""
    rng = random.Random(1)
    host_list = [host(f"h{i:04d}", 64000, 262144, maintenance=i < maintenance) for i in range(hosts)]
    vm_list = []
    for j in range(vms):
        h = rng.randrange(hosts)
        cpu, mem = rng.choice([1000, 2000, 4000]), rng.choice([2048, 4096, 8192])
        use = Resources(int(cpu * rng.random() * (1.0 if h % 7 == 0 else 0.6)), mem // 2)
        vm_list.append(vm(f"vm{j}", f"h{h:04d}", cpu, mem, usage=use))
    forecast = Forecast(300, tuple(VmForecast(v.name, v.usage, Resources(v.usage.cpu_m * 12 // 10, v.usage.mem_mib))
                                   for v in vm_list))
    return snapshot(host_list, vm_list), forecast


@pytest.mark.slow
@pytest.mark.parametrize(("maintenance", "moves"), [(0, 10), (0, 100), (5, 100)])
def test_thousand_hosts_plan_the_whole_budget(maintenance: int, moves: int) -> None:
    snap, forecast = big_cluster(maintenance=maintenance)
    result = plan(snap, forecast, PolicyConfig(max_moves_per_cycle=moves, min_gain=0.0))
    assert len(result.moves) == moves
    assert result.score_after > result.score_before
