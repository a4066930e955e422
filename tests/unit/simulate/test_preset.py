"""Tests of balancerd.simulate.preset: the cloudsim-planetlab setup and the config-built preset."""

from __future__ import annotations

import pytest

from balancerd.config import SimConfig
from balancerd.errors import ConfigError
from balancerd.simulate.preset import CLOUDSIM_PLANETLAB, VmType, preset, preset_from_config


def test_cloudsim_planetlab_hosts_alternate_g4_and_g5() -> None:
    p = preset("cloudsim-planetlab")
    assert p is CLOUDSIM_PLANETLAB and p.hosts == 800 and p.step_s == 300
    assert [p.host_type(i).mips for i in range(4)] == [3720, 5320, 3720, 5320]
    assert {p.host_type(i).ram_mib for i in range(2)} == {4096}


def test_vm_types_go_to_contiguous_quarters() -> None:
    types = [CLOUDSIM_PLANETLAB.vm_type(i, 8) for i in range(8)]
    assert types == [VmType(2500, 870)] * 2 + [VmType(2000, 1740)] * 2 + [VmType(1000, 1740)] * 2 + \
        [VmType(500, 613)] * 2
    assert CLOUDSIM_PLANETLAB.vm_type(1051, 1052) == VmType(500, 613)


def test_migration_speed_is_half_the_bandwidth() -> None:
    # CloudSim: RAM / (bandwidth / 2); 1 Gbit/s / 2 = 62.5 MB/s
    assert CLOUDSIM_PLANETLAB.migration_mib_s == 62


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="known presets: cloudsim-planetlab"):
        preset("nope")


def test_preset_from_config_uses_the_sim_section() -> None:
    p = preset_from_config(SimConfig(hosts=3, host_cpu_m=8000, host_mem_mib=16384), 250)
    assert p.hosts == 3 and p.host_type(2).mips == 8000 and p.host_type(0).ram_mib == 16384
    assert p.memory_overcommit == 1 and p.migration_mib_s == 250
