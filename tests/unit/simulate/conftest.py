"""Small workloads and presets shared by the simulate tests."""

from __future__ import annotations

import numpy as np

from balancerd.simulate.power import HP_ML110_G4, HP_ML110_G5
from balancerd.simulate.preset import HostType, Preset, VmType
from balancerd.traces import Workload

SMALL_HOST = HostType("small", 2, 1000, 4096, HP_ML110_G4)
BIG_HOST = HostType("big", 2, 2000, 4096, HP_ML110_G5)


def tiny_preset(hosts: int = 4, overcommit: int = 4) -> Preset:
    return Preset(name="tiny", hosts=hosts, host_types=(SMALL_HOST, BIG_HOST),
                  vm_types=(VmType(1000, 1024), VmType(500, 512)), bandwidth_mbit_s=1000, step_s=300,
                  memory_overcommit=overcommit)


def workload(percent: list[list[float]], step_s: int = 300) -> Workload:
    names = tuple(f"vm{i}" for i in range(len(percent)))
    return Workload(names=names, step_s=step_s, percent=np.asarray(percent, dtype=np.float64), source="test")
