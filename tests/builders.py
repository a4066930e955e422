"""Shared builders of hosts, VMs, snapshots and policies for the unit, property and scenario tests.

One place for the values the optimizer, predictor and service tests start from (ARCHITECTURE.md, Tests),
instead of a private copy per test file. Builders take the few numbers a test cares about and default the
rest: memory in MiB, CPU in millicores, a VM's usage equal to its size unless given, snapshot 1 taken at 0.
A test keeps a local helper only for something genuinely its own (a random cluster, a YAML spec), built
on these. Bandwidth settings are left at their defaults on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from balancerd import config
from balancerd.model import ZERO, ClusterSnapshot, Extra, Host, InFlight, Resources, Vm

HOST_CPU_M = 10_000
HOST_MEM_MIB = 65_536
VM_SIZE = Resources(1000, 1024)
ROOMY = Resources(10**6, 10**6)
"""A host capacity no test load reaches (for tests that look at VMs only)."""


def host(name: str, cpu_m: int = HOST_CPU_M, mem_mib: int = HOST_MEM_MIB, *, usage: Resources = ZERO,
         reachable: bool = True, maintenance: bool = False, domain: str = "", extra: Extra = ()) -> Host:
    """A host with capacity ``cpu_m`` x ``mem_mib`` (plus named ``extra`` resources) and measured ``usage``."""
    return Host(name, Resources(cpu_m, mem_mib, extra), usage, reachable=reachable, maintenance=maintenance,
                domain=domain)


def vm(name: str, on: str, cpu_m: int = VM_SIZE.cpu_m, mem_mib: int = VM_SIZE.mem_mib, *,
       usage: Resources | None = None, running: bool = True, live: bool = True, extra: Extra = (),
       dirty_rate_mib_s: int = 0) -> Vm:
    """A VM of size ``cpu_m`` x ``mem_mib`` on host ``on``; it uses its whole size unless ``usage`` says."""
    size = Resources(cpu_m, mem_mib, extra)
    return Vm(name, on, size, size if usage is None else usage, running=running, live_migratable=live,
              dirty_rate_mib_s=dirty_rate_mib_s)


def snapshot(hosts: Iterable[Host], vms: Iterable[Vm] = (), in_flight: Iterable[InFlight] = (), *,
             seq: int = 1, at: float = 0.0) -> ClusterSnapshot:
    """A snapshot of ``hosts`` and ``vms`` (and moves in flight), number ``seq`` taken at ``at``."""
    return ClusterSnapshot(seq, at, tuple(hosts), tuple(vms), tuple(in_flight))


def grid(cpu_loads: Sequence[Sequence[int]], *, vm_mem_mib: int = 1024, maintenance: Iterable[str] = (),
         cpu_m: int = HOST_CPU_M, mem_mib: int = HOST_MEM_MIB, seq: int = 1, at: float = 0.0) -> ClusterSnapshot:
    """One host ``h{i}`` per list, one VM ``h{i}v{j}`` per CPU value in it (usage = size, ``vm_mem_mib`` each)."""
    down = set(maintenance)
    hosts = [host(f"h{i}", cpu_m, mem_mib, maintenance=f"h{i}" in down) for i in range(len(cpu_loads))]
    vms = [vm(f"h{i}v{j}", f"h{i}", cpu, vm_mem_mib)
           for i, loads in enumerate(cpu_loads) for j, cpu in enumerate(loads)]
    return snapshot(hosts, vms, seq=seq, at=at)


def on_one_host(usage: Mapping[str, Resources], *, seq: int = 1, at: float = 0.0, name: str = "h",
                size: Resources = VM_SIZE, capacity: Resources = ROOMY,
                running: bool = True) -> ClusterSnapshot:
    """The VMs named in ``usage``, all of ``size`` on one host, each using what ``usage`` says (a predictor sample)."""
    vms = [Vm(n, name, size, used, running=running) for n, used in usage.items()]
    return snapshot([Host(name, capacity)], vms, seq=seq, at=at)


def policy(table: Mapping[str, Any] | None = None) -> config.PolicyConfig:
    """A ``[policy]`` table (rules and domains as lists of tables) read and checked as the config loader does."""
    return config.from_table({"policy": dict(table or {})}, Path(".")).policy


def counting_clock(step: float = 0.001) -> Callable[[], float]:
    """A clock for the optimizer's search that advances by ``step`` at every reading (no wall time)."""
    ticks = [0.0]

    def now() -> float:
        ticks[0] += step
        return ticks[0]

    return now
