"""A described cluster (``[sim] cluster``, read by :mod:`balancerd.config.cluster`) as simulated hosts and VMs.

Called by :func:`balancerd.backends.sim.fromconfig.configured` when the config describes its cluster in a file,
so that ``balancerd plan`` and the daemon run on exactly those hosts and VMs instead of a seeded draw. Pure: the
file was read and checked when the config loaded. The file gives each pool's free MiB; a simulated pool's
capacity is that plus the disks of the VMs the file puts on the host, so the free space follows the VMs as
they move.
"""

from __future__ import annotations

from collections.abc import Iterable

from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.config import ClusterFile, ClusterHostConfig, ClusterVmConfig
from balancerd.model import Extra


def cluster_specs(cluster: ClusterFile) -> tuple[list[SimHost], list[SimVm]]:
    """The file's hosts (pool capacities counted) and VMs, in the file's order."""
    return [_host(h, [vm for vm in cluster.vms if vm.host == h.name]) for h in cluster.hosts], \
        [_vm(vm) for vm in cluster.vms]


def _host(host: ClusterHostConfig, vms: Iterable[ClusterVmConfig]) -> SimHost:
    held: dict[str, int] = {}
    for vm in vms:
        for pool, mib in vm.disks:
            held[pool] = held.get(pool, 0) + mib
    pools: Extra = tuple((name, free + held.get(name, 0)) for name, free in host.pools)
    return SimHost(name=host.name, cpus=host.cpus, memory_mib=host.memory_mib, networks=_set(host.networks),
                   cpu_group=host.cpu_group, cpu_models=_set(host.cpu_models), pools=pools,
                   resources=host.resources)


def _vm(vm: ClusterVmConfig) -> SimVm:
    return SimVm(name=vm.name, host=vm.host, vcpus=vm.vcpus, memory_mib=vm.memory_mib, cpu_pct=vm.cpu_pct,
                 mem_used_pct=vm.mem_used_pct, dirty_rate_mib_s=vm.dirty_rate_mib_s,
                 live_migratable=vm.live_migratable, networks=frozenset(vm.networks), cpu_mode=vm.cpu_mode,
                 cpu_model=vm.cpu_model, disks=vm.disks, resources=vm.resources)


def _set(names: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)
