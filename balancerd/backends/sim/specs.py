"""What a simulated host and VM are: their fixed specs and the mutable state the cluster keeps of each.

Used by :mod:`balancerd.backends.sim.cluster` (the simulated :class:`~balancerd.backends.base.Hypervisor`),
:mod:`balancerd.backends.sim.fromconfig` (a cluster from ``[sim]``) and :mod:`balancerd.simulate.cluster`
(the CloudSim preset); tests build specs directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from balancerd.model import Extra

CpuPct = Callable[[float], float] | float
"""CPU demand in percent of a VM's vCPUs: fixed, or a function of clock time."""


@dataclass(frozen=True, slots=True)
class SimHost:
    """A simulated hypervisor: logical CPUs and memory, and the pre-flight facts a real host reports.

    ``networks`` None = the host offers every network (nothing is checked); ``cpu_models`` None = any model.
    ``pools``: storage pool name -> capacity in MiB (what the VMs' disks there may fill); ``resources``: named
    resource -> capacity. Both sorted by name.
    """

    name: str
    cpus: int
    memory_mib: int
    networks: frozenset[str] | None = None
    cpu_group: str = ""
    cpu_models: frozenset[str] | None = None
    migration_problem: str = ""
    pools: Extra = ()
    resources: Extra = ()


@dataclass(frozen=True, slots=True)
class SimVm:
    """A simulated VM. ``cpu_pct`` is its CPU demand in percent of its vCPUs, fixed or a function of time.

    ``disks``: storage pool name -> MiB of its local disks there (copied with it); ``resources``: named resource
    -> demand. Both sorted by name.
    """

    name: str
    host: str
    vcpus: int
    memory_mib: int
    cpu_pct: CpuPct
    mem_used_pct: float = 60.0
    dirty_rate_mib_s: int = 0
    live_migratable: bool = True
    networks: frozenset[str] = frozenset()
    cpu_mode: str = ""
    cpu_model: str = ""
    disks: Extra = ()
    resources: Extra = ()


class VmState:
    """The mutable side of one VM: where it runs, its demand now, its integrated CPU counter."""

    __slots__ = ("arrival_ns", "cpu_ns", "cpu_pct", "dirty_rate", "host", "last_t", "spec", "used_mib")

    def __init__(self, spec: SimVm, now: float) -> None:
        self.spec = spec
        self.host = spec.host
        self.cpu_pct: CpuPct = spec.cpu_pct
        self.dirty_rate = spec.dirty_rate_mib_s
        self.used_mib = round(spec.memory_mib * spec.mem_used_pct / 100)
        self.cpu_ns = 0
        self.arrival_ns = 0
        self.last_t = now

    def pct(self, now: float) -> float:
        """CPU demand in percent of the vCPUs at ``now``, clamped to 0..100."""
        raw = self.cpu_pct(now) if callable(self.cpu_pct) else self.cpu_pct
        return min(100.0, max(0.0, raw))

    def integrate(self, now: float) -> int:
        """Add the CPU time used since the last read at the current demand; the counter after it."""
        elapsed = now - self.last_t
        if elapsed > 0:
            self.cpu_ns += int(self.spec.vcpus * self.pct(now) * 1e7 * elapsed)
            self.last_t = now
        return self.cpu_ns


class HostState:
    """The mutable side of one host: up or down, its VMs, CPU time of VMs that left it."""

    __slots__ = ("base_ns", "created_at", "down", "spec", "vms")

    def __init__(self, spec: SimHost, now: float) -> None:
        self.spec = spec
        self.down = False
        self.vms: dict[str, VmState] = {}
        self.base_ns = 0
        self.created_at = now
