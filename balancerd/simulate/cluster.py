"""The concrete simulated cluster of one replay: hosts, VMs with trace-driven demand, initial placement.

Called by :mod:`balancerd.simulate.runner`. Builds explicit :class:`~balancerd.backends.sim.SimHost` and
:class:`~balancerd.backends.sim.SimVm` lists for ``SimCluster``. A VM of M MIPS has ``ceil(M / 1000)`` vCPUs
and a CPU demand, in percent of those vCPUs, such that its usage in millicores equals trace % x M / 100; the
demand of step k holds from ``origin + k * step_s`` for one step (the last step's value holds after the end).

Initial placement is power-aware best-fit decreasing: VMs by decreasing demand at step 0, each on the host
where it fits (CPU within capacity, RAM within the host's real RAM) whose power grows least; a host that
is still empty counts its idle power too, so VMs are packed before another host is switched on.

:func:`from_described` builds the replay of a described cluster (``[sim] cluster``) instead: its hosts (the
G5 power curve, 1,000 MIPS per CPU) and VMs where the file puts them, VM ``i`` following the trace's series
``i`` (modulo the series) in percent of its vCPUs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancerd.backends.sim.described import cluster_specs
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.config import ClusterFile
from balancerd.errors import ConfigError
from balancerd.simulate.power import HP_ML110_G5, watts_many
from balancerd.simulate.preset import Preset
from balancerd.traces import Workload

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Cluster:
    """Everything a replay needs about its hosts and VMs, in index order."""

    hosts: tuple[SimHost, ...]
    vms: tuple[SimVm, ...]
    host_mips: Floats
    host_ram_mib: Ints
    host_power: Floats
    vm_ram_mib: Ints
    demand: Floats
    """Requested MIPS per VM (rows) and step (columns)."""
    placement: Ints
    """Initial host index of every VM."""
    step_s: int
    origin: float
    link_mib_s: int
    """The migration link of the preset: the replay's ``[migration] link_mib_s``."""


class TraceDemand:
    """CPU demand of one VM in percent of its vCPUs at clock time ``now`` (a step function of the trace)."""

    __slots__ = ("_last", "_origin", "_pct", "_step")

    def __init__(self, pct: list[float], origin: float, step_s: int) -> None:
        self._pct = pct
        self._origin = origin
        self._step = step_s
        self._last = len(pct) - 1

    def __call__(self, now: float) -> float:
        index = int((now - self._origin) // self._step)
        return self._pct[min(max(index, 0), self._last)]


def build(workload: Workload, preset: Preset, origin: float) -> Cluster:
    """Hosts and VMs of ``preset`` running ``workload``, placed power-aware best-fit decreasing."""
    count = len(workload.names)
    types = [preset.vm_type(i, count) for i in range(count)]
    vm_mips = np.asarray([t.mips for t in types], dtype=np.float64)
    demand = workload.percent * vm_mips[:, None] / 100.0
    host_types = [preset.host_type(i) for i in range(preset.hosts)]
    width = max(2, len(str(preset.hosts)))
    names = [f"host{i + 1:0{width}d}" for i in range(preset.hosts)]
    memory = preset.memory_overcommit
    hosts = tuple(SimHost(n, t.pes, t.ram_mib * memory) for n, t in zip(names, host_types, strict=True))
    host_mips = np.asarray([t.mips for t in host_types], dtype=np.float64)
    host_ram = np.asarray([t.ram_mib for t in host_types], dtype=np.int64)
    power = np.asarray([t.power for t in host_types], dtype=np.float64)
    vm_ram = np.asarray([t.ram_mib for t in types], dtype=np.int64)
    placement = place(demand[:, 0], vm_ram, host_mips, host_ram, power)
    vms = tuple(_vm(workload.names[i], names[placement[i]], types[i].mips, types[i].ram_mib, demand[i], origin,
                    workload.step_s) for i in range(count))
    return Cluster(hosts=hosts, vms=vms, host_mips=host_mips, host_ram_mib=host_ram, host_power=power,
                   vm_ram_mib=vm_ram, demand=demand, placement=placement, step_s=workload.step_s, origin=origin,
                   link_mib_s=preset.migration_mib_s)


def from_described(workload: Workload, described: ClusterFile, origin: float, link_mib_s: int) -> Cluster:
    """The described cluster's hosts and VMs in place, VM ``i`` running the workload's series ``i % series``."""
    hosts, specs = cluster_specs(described)
    index = {h.name: i for i, h in enumerate(hosts)}
    series = workload.percent[[i % len(workload.names) for i in range(len(specs))]]
    vcpus = np.asarray([vm.vcpus for vm in specs], dtype=np.float64)
    vms = tuple(dataclasses.replace(vm, cpu_pct=TraceDemand([float(v) for v in series[i]], origin, workload.step_s))
                for i, vm in enumerate(specs))
    return Cluster(hosts=tuple(hosts), vms=vms,
                   host_mips=np.asarray([h.cpus * 1000 for h in hosts], dtype=np.float64),
                   host_ram_mib=np.asarray([h.memory_mib for h in hosts], dtype=np.int64),
                   host_power=np.asarray([HP_ML110_G5 for _ in hosts], dtype=np.float64),
                   vm_ram_mib=np.asarray([vm.memory_mib for vm in specs], dtype=np.int64),
                   demand=series * vcpus[:, None] * 10.0,
                   placement=np.asarray([index[vm.host] for vm in specs], dtype=np.int64),
                   step_s=workload.step_s, origin=origin, link_mib_s=link_mib_s)


def _vm(name: str, host: str, mips: int, ram_mib: int, demand: Floats, origin: float, step_s: int) -> SimVm:
    vcpus = max(1, math.ceil(mips / 1000))
    pct = [float(v) * 100.0 / (vcpus * 1000) for v in demand]
    return SimVm(name=name, host=host, vcpus=vcpus, memory_mib=ram_mib, cpu_pct=TraceDemand(pct, origin, step_s))


def place(demand: Floats, ram: Ints, host_mips: Floats, host_ram: Ints, power: Floats) -> Ints:
    """Power-aware best-fit decreasing: the host index of every VM."""
    used_cpu = np.zeros(len(host_mips))
    used_ram = np.zeros(len(host_mips), dtype=np.int64)
    active = np.zeros(len(host_mips), dtype=bool)
    where = np.full(len(demand), -1, dtype=np.int64)
    for vm in np.argsort(-demand, kind="stable"):
        fits = (used_cpu + demand[vm] <= host_mips) & (used_ram + ram[vm] <= host_ram)
        if not fits.any():
            raise ConfigError("--preset", f"{len(host_mips)} hosts",
                              f"too few hosts: VM {vm} fits on none at the initial placement")
        before = np.where(active, watts_many(power, used_cpu / host_mips), 0.0)
        after = watts_many(power, (used_cpu + demand[vm]) / host_mips)
        host = int(np.argmin(np.where(fits, after - before, np.inf)))
        where[vm] = host
        used_cpu[host] += demand[vm]
        used_ram[host] += ram[vm]
        active[host] = True
    return where
