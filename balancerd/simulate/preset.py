"""Cluster presets for ``balancerd simulate``: which hosts and VM types a replayed trace runs on.

Called by :mod:`balancerd.simulate.cli` (``--preset``) and :mod:`balancerd.simulate.cluster`. The preset
``cloudsim-planetlab`` is the setup of Beloglazov & Buyya 2012 as CloudSim 3 builds it
(``PlanetLabHelper`` / ``PowerConstants``): 800 hosts alternating HP ML110 G4 (2 x 1,860 MIPS) and G5
(2 x 2,660 MIPS), 4 GB of RAM and 1 Gbit/s each; VM types 2,500 MIPS / 870 MB, 2,000 / 1,740, 1,000 / 1,740
and 500 / 613, given to contiguous quarters of the VM list; one trace series per VM; 300 s steps.

CPU is counted in MIPS where the pipeline counts millicores. CloudSim checks a VM's RAM only when it is
first placed (afterwards its PlanetLab cloudlets request no RAM), so RAM limits the initial placement and
``memory_overcommit`` times the host's RAM is what the simulated hosts offer afterwards; set it to 1 to
hold every later placement to the host's real RAM too. ``preset_from_config`` builds the cluster of a
config's ``[sim]`` section instead (one host type, the same four VM types).
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.config import SimConfig
from balancerd.errors import ConfigError
from balancerd.simulate.power import HP_ML110_G4, HP_ML110_G5, PowerTable


@dataclass(frozen=True, slots=True)
class HostType:
    """A server model: cores, MIPS per core, RAM and its power table."""

    name: str
    pes: int
    mips_per_pe: int
    ram_mib: int
    power: PowerTable

    @property
    def mips(self) -> int:
        return self.pes * self.mips_per_pe


@dataclass(frozen=True, slots=True)
class VmType:
    """A VM size: MIPS and RAM."""

    mips: int
    ram_mib: int


@dataclass(frozen=True, slots=True)
class Preset:
    """Hosts (types assigned round-robin), VM types (contiguous equal shares of the VM list) and the network."""

    name: str
    hosts: int
    host_types: tuple[HostType, ...]
    vm_types: tuple[VmType, ...]
    bandwidth_mbit_s: int
    step_s: int = 300
    memory_overcommit: int = 1

    @property
    def migration_mib_s(self) -> int:
        """CloudSim's migration speed: half the host bandwidth (RAM / (bandwidth / 2)), in MiB/s."""
        return max(1, round(self.bandwidth_mbit_s / 8 / 2))

    def host_type(self, index: int) -> HostType:
        return self.host_types[index % len(self.host_types)]

    def vm_type(self, index: int, vms: int) -> VmType:
        """The type of VM ``index`` of ``vms``: contiguous shares, in the order of ``vm_types``."""
        return self.vm_types[min(len(self.vm_types) - 1, index * len(self.vm_types) // max(1, vms))]


G4 = HostType("HP ProLiant ML110 G4", 2, 1860, 4096, HP_ML110_G4)
G5 = HostType("HP ProLiant ML110 G5", 2, 2660, 4096, HP_ML110_G5)
CLOUDSIM_VM_TYPES = (VmType(2500, 870), VmType(2000, 1740), VmType(1000, 1740), VmType(500, 613))

CLOUDSIM_PLANETLAB = Preset(name="cloudsim-planetlab", hosts=800, host_types=(G4, G5), vm_types=CLOUDSIM_VM_TYPES,
                            bandwidth_mbit_s=1000, step_s=300, memory_overcommit=16)

PRESETS = {CLOUDSIM_PLANETLAB.name: CLOUDSIM_PLANETLAB}


def preset(name: str) -> Preset:
    """The preset called ``name``."""
    try:
        return PRESETS[name]
    except KeyError as exc:
        raise ConfigError("--preset", name, f"known presets: {', '.join(sorted(PRESETS))}") from exc


def preset_from_config(sim: SimConfig, link_mib_s: int) -> Preset:
    """The cluster of a config's ``[sim]`` section on its ``[migration] link_mib_s`` link: one host type (G5
    power curve), CloudSim's VM types."""
    host = HostType("configured host", max(1, sim.host_cpu_m // 1000), 1000, sim.host_mem_mib, HP_ML110_G5)
    return Preset(name="config", hosts=sim.hosts, host_types=(host,), vm_types=CLOUDSIM_VM_TYPES,
                  bandwidth_mbit_s=link_mib_s * 16, step_s=sim.trace_step_s, memory_overcommit=1)
