"""Samples from every host -> one :class:`~balancerd.model.ClusterSnapshot`.

The daemon and ``balancerd plan`` call :meth:`Collector.collect` once per cycle. It asks the backend for
the inventory and the bulk stats of every reachable host, forms CPU rates from the previous cycle's
counters, and marks hosts that fail as unreachable so that the cycle carries on for the others.
Maintenance flags and in-flight migrations come from the caller (the daemon owns them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from balancerd.backends.base import DomainStats, HostInfo, Hypervisor, NodeStats
from balancerd.collect.rates import CounterSample, cpu_millicores
from balancerd.errors import BackendError
from balancerd.model import ClusterSnapshot, Host, InFlight, Resources, Vm


@dataclass(frozen=True, slots=True)
class CollectResult:
    """A snapshot and the per-host problems met while taking it."""

    snapshot: ClusterSnapshot
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _HostSample:
    host: Host
    vms: tuple[Vm, ...]


class Collector:
    """Keeps counter history between cycles; everything else is recomputed each time."""

    def __init__(self, backend: Hypervisor, capacity_overrides: Mapping[str, Resources] | None = None,
                 include_node_overhead: bool = True) -> None:
        self._backend = backend
        self._overrides = dict(capacity_overrides or {})
        self._node_overhead = include_node_overhead
        self._vm_counters: dict[str, CounterSample] = {}
        self._node_counters: dict[str, CounterSample] = {}
        self._seq = 0

    def collect(self, at: float, maintenance: frozenset[str] = frozenset(),
                in_flight: tuple[InFlight, ...] = ()) -> CollectResult:
        """Take one snapshot at clock time ``at``."""
        self._seq += 1
        hosts: list[Host] = []
        vms: list[Vm] = []
        errors: list[str] = []
        for info in self._backend.hosts():
            sample, error = self._sample_host(info, info.name in maintenance)
            hosts.append(sample.host)
            vms.extend(sample.vms)
            if error:
                errors.append(error)
        snapshot = ClusterSnapshot(self._seq, at, tuple(hosts), tuple(vms), in_flight)
        return CollectResult(snapshot, tuple(errors))

    def _sample_host(self, info: HostInfo, maintenance: bool) -> tuple[_HostSample, str]:
        capacity = self._overrides.get(info.name) or Resources(info.cpus * 1000, info.memory_mib)
        down = Host(info.name, capacity, reachable=False, maintenance=maintenance)
        if not info.reachable:
            return _HostSample(down, ()), f"host {info.name} is unreachable"
        try:
            node = self._backend.node_stats(info.name)
            domains = self._backend.domain_stats(info.name)
        except BackendError as exc:
            return _HostSample(down, ()), f"host {info.name}: {exc}"
        vms = tuple(self._vm(d) for d in domains)
        usage = self._host_usage(node, vms)
        return _HostSample(Host(info.name, capacity, usage, True, maintenance), vms), ""

    def _vm(self, stats: DomainStats) -> Vm:
        current = CounterSample(stats.at, stats.cpu_time_ns)
        previous = self._vm_counters.get(stats.name)
        self._vm_counters[stats.name] = current
        cpu = cpu_millicores(previous, current) if stats.running else 0
        size = Resources(stats.vcpus * 1000, stats.memory_mib)
        usage = Resources(min(cpu or 0, size.cpu_m), stats.memory_used_mib if stats.running else 0)
        return Vm(stats.name, stats.host, size, usage, stats.running, stats.live_migratable,
                  stats.dirty_rate_mib_s)

    def _host_usage(self, node: NodeStats, vms: tuple[Vm, ...]) -> Resources:
        from_vms = Resources.total(vm.usage for vm in vms)
        if not self._node_overhead:
            return from_vms
        current = CounterSample(node.at, node.cpu_time_ns)
        node_cpu = cpu_millicores(self._node_counters.get(node.host), current)
        self._node_counters[node.host] = current
        node_mem = node.memory_total_mib - node.memory_free_mib
        node_usage = Resources(node_cpu if node_cpu is not None else from_vms.cpu_m, node_mem)
        return from_vms.max_with(node_usage)
