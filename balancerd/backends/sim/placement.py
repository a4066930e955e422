"""Sizes and initial placement of a configured simulated cluster.

``backends.sim.SimCluster.from_config`` calls :func:`draw_sizes` to give each VM a realistic type, chosen
deterministically from the seed, and :func:`place` to put the VMs on hosts: every host's VM memory and
starting CPU demand fit, and a share ``skew`` of the VMs is packed onto the first third of the hosts first,
so the cluster starts as unbalanced as asked. Pure functions; nothing here knows about clocks or backends.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from balancerd.errors import ConfigError

_KEY = "sim.vms"


@dataclass(frozen=True, slots=True)
class VmType:
    """A VM size as clouds sell them."""

    vcpus: int
    memory_mib: int
    weight: int


VM_TYPES = (
    VmType(1, 2048, 4),
    VmType(2, 4096, 3),
    VmType(4, 8192, 2),
    VmType(8, 16384, 1),
)


@dataclass(frozen=True, slots=True)
class VmDraw:
    """What the seed decided for one VM besides its trace."""

    vcpus: int
    memory_mib: int
    mem_used_pct: float
    dirty_rate_mib_s: int


@dataclass(frozen=True, slots=True)
class Demand:
    """What one VM needs of its host at the start: memory MiB and CPU millicores."""

    memory_mib: int
    cpu_m: int


def draw_sizes(count: int, host_cpus: int, host_mem_mib: int, rng: random.Random) -> list[VmDraw]:
    """``count`` VM sizes among the types that fit on one host; ConfigError when none does."""
    types = [t for t in VM_TYPES if t.vcpus <= host_cpus and t.memory_mib <= host_mem_mib]
    if not types and count:
        raise ConfigError(_KEY, count, f"no VM type fits a host of {host_cpus} CPUs and {host_mem_mib} MiB "
                          f"(smallest: {VM_TYPES[0].vcpus} vCPU, {VM_TYPES[0].memory_mib} MiB)")
    chosen = rng.choices(types, weights=[t.weight for t in types], k=count)
    return [VmDraw(t.vcpus, t.memory_mib, float(rng.randint(40, 85)), _dirty_rate(t, rng)) for t in chosen]


def _dirty_rate(vm_type: VmType, rng: random.Random) -> int:
    """A page-dirtying rate in MiB/s: mostly quiet guests, larger ones busier, all below a 1 GiB/s link."""
    return rng.randint(0, 25) * vm_type.vcpus


def pick_skewed(count: int, skew: float, rng: random.Random) -> list[bool]:
    """Which VMs go preferentially to the first third of the hosts: ``round(skew * count)`` of them."""
    flags = [False] * count
    for index in rng.sample(range(count), round(skew * count)):
        flags[index] = True
    return flags


def place(demands: Sequence[Demand], host_mem_mib: Sequence[int], host_cpu_m: Sequence[int],
          skewed: Sequence[bool]) -> list[int]:
    """A host index per VM: skewed VMs first onto the first third of the hosts, everything round-robin."""
    _check_total(demands, host_mem_mib)
    packer = _Packer(list(host_mem_mib), list(host_cpu_m), min((d.memory_mib for d in demands), default=0))
    first_third = _Ring(list(range(max(1, math.ceil(len(host_mem_mib) / 3)))))
    everywhere = _Ring(list(range(len(host_mem_mib))))
    result = [-1] * len(demands)
    order = [i for i, flag in enumerate(skewed) if flag] + [i for i, flag in enumerate(skewed) if not flag]
    for index in order:
        demand = demands[index]
        host = packer.take(first_third, demand) if skewed[index] else None
        if host is None:
            host = packer.take(everywhere, demand)
        if host is None:
            raise ConfigError(_KEY, len(demands), f"VM #{index + 1} ({demand.memory_mib} MiB, {demand.cpu_m} "
                              "millicores at the start) fits on no host: use fewer VMs or bigger/more hosts")
        result[index] = host
    return result


def _check_total(demands: Sequence[Demand], host_mem_mib: Sequence[int]) -> None:
    """Fail fast when the VMs' memory exceeds the cluster's."""
    need = sum(d.memory_mib for d in demands)
    have = sum(host_mem_mib)
    if need > have:
        raise ConfigError(_KEY, len(demands), f"the VMs need {need} MiB of memory but the hosts have {have} "
                          "MiB: use fewer VMs or bigger/more hosts")


class _Ring:
    """Hosts visited round-robin, with upper bounds of their free resources to skip hopeless scans."""

    def __init__(self, hosts: list[int]) -> None:
        self.hosts = hosts
        self.pos = 0
        self.max_mem = math.inf
        self.max_cpu = math.inf


class _Packer:
    """Free memory and CPU per host while VMs are placed."""

    def __init__(self, free_mem: list[int], free_cpu: list[int], smallest_mib: int) -> None:
        self.free_mem = free_mem
        self.free_cpu = free_cpu
        self.smallest_mib = smallest_mib

    def take(self, ring: _Ring, demand: Demand) -> int | None:
        """The next host of ``ring`` (round-robin) that fits ``demand``, now charged with it; None if none."""
        if demand.memory_mib > ring.max_mem or demand.cpu_m > ring.max_cpu:
            return None
        scanned = 0
        while scanned < len(ring.hosts):
            slot = ring.pos % len(ring.hosts)
            host = ring.hosts[slot]
            ring.pos = slot + 1
            if self.free_mem[host] < self.smallest_mib:
                del ring.hosts[slot]
                ring.pos = slot
            elif self._fits(host, demand):
                self._charge(host, demand)
                return host
            else:
                scanned += 1
        self._tighten(ring)
        return None

    def _fits(self, host: int, demand: Demand) -> bool:
        return demand.memory_mib <= self.free_mem[host] and demand.cpu_m <= self.free_cpu[host]

    def _charge(self, host: int, demand: Demand) -> None:
        self.free_mem[host] -= demand.memory_mib
        self.free_cpu[host] -= demand.cpu_m

    def _tighten(self, ring: _Ring) -> None:
        """After a failed scan, remember the most any host of the ring still has free."""
        ring.max_mem = max((self.free_mem[h] for h in ring.hosts), default=-1)
        ring.max_cpu = max((self.free_cpu[h] for h in ring.hosts), default=-1)
