"""Samples from every host -> one :class:`~balancerd.model.ClusterSnapshot`.

The daemon and ``balancerd plan`` call :meth:`Collector.collect` once per cycle. It asks every host at once
(:mod:`balancerd.collect.gather`: ``workers`` at a time, ``host_timeout_s`` each) for its inventory and bulk
stats, then forms CPU rates from the previous cycle's counters in the calling thread. A host that fails or
misses its deadline is unreachable for this cycle (the planner neither moves its VMs nor moves VMs onto it)
and the cycle carries on with the others. Maintenance flags and in-flight migrations come from the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from balancerd.backends.base import DomainStats, HostInfo, Hypervisor, NodeStats
from balancerd.collect.gather import Gatherer, Missed
from balancerd.collect.rates import CounterSample, cpu_millicores
from balancerd.config import NetworkMapConfig, network_pairs
from balancerd.errors import BackendError
from balancerd.model import ClusterSnapshot, Host, InFlight, Resources, Vm

log = structlog.get_logger("balancerd.collect")
DEFAULT_WORKERS = 32
DEFAULT_HOST_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class CollectResult:
    """A snapshot and the per-host problems met while taking it."""

    snapshot: ClusterSnapshot
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _HostSample:
    host: Host
    vms: tuple[Vm, ...]


@dataclass(frozen=True, slots=True)
class _Raw:
    """What one host answered (in a worker thread); turned into a sample in the collector's thread."""

    info: HostInfo
    node: NodeStats | None = None
    domains: tuple[DomainStats, ...] = ()


class Collector:
    """Keeps counter history between cycles; everything else is recomputed each time."""

    def __init__(self, backend: Hypervisor, capacity_overrides: Mapping[str, Resources] | None = None,
                 include_node_overhead: bool = True, workers: int = DEFAULT_WORKERS,
                 host_timeout_s: float = DEFAULT_HOST_TIMEOUT_S,
                 network_map: tuple[NetworkMapConfig, ...] = ()) -> None:
        self._backend = backend
        self._network_map = network_map
        self._overrides = dict(capacity_overrides or {})
        self._node_overhead = include_node_overhead
        self._vm_counters: dict[str, CounterSample] = {}
        self._node_counters: dict[str, CounterSample] = {}
        self._capacity: dict[str, Resources] = {}
        self._gatherer = Gatherer(self._fetch, workers, host_timeout_s, self._abandon)
        self._seq = 0

    def reconfigure(self, workers: int, host_timeout_s: float,
                    network_map: tuple[NetworkMapConfig, ...] = ()) -> None:
        self._gatherer.reconfigure(workers, host_timeout_s)
        self._network_map = network_map

    def collect(self, at: float, maintenance: frozenset[str] = frozenset(),
                in_flight: tuple[InFlight, ...] = ()) -> CollectResult:
        """Take one snapshot at clock time ``at``."""
        self._seq += 1
        names = self._backend.host_names()
        answers = self._gatherer.gather(names)
        hosts: list[Host] = []
        vms: list[Vm] = []
        errors: list[str] = []
        for name in names:
            sample, error = self._sample_host(name, answers[name], name in maintenance)
            hosts.append(sample.host)
            vms.extend(sample.vms)
            if error:
                errors.append(error)
        snapshot = ClusterSnapshot(self._seq, at, tuple(hosts), tuple(vms), in_flight)
        return CollectResult(snapshot, tuple(errors))

    def _fetch(self, host: str) -> _Raw:
        """Everything one host is asked for (runs in a gather worker; no state of the collector touched)."""
        info = self._backend.host_info(host)
        if not info.reachable:
            return _Raw(info)
        return _Raw(info, self._backend.node_stats(host), self._backend.domain_stats(host))

    def _abandon(self, host: str, reason: str) -> None:
        log.warning("host unreachable", host=host, reason=reason)
        try:
            self._backend.reset_host(host, reason)
        except BackendError as exc:
            log.error("host connection not reset", host=host, error=str(exc))

    def _sample_host(self, name: str, answer: _Raw | BackendError | Missed,
                     maintenance: bool) -> tuple[_HostSample, str]:
        if isinstance(answer, _Raw) and answer.info.cpus:  # the last size a host reported stands while it is away
            self._capacity[name] = Resources(answer.info.cpus * 1000, answer.info.memory_mib, answer.info.extra)
        capacity = self._capacity.get(name, Resources(0, 0))
        override = self._overrides.get(name)
        if override is not None:  # overrides set CPU and memory; named resources stay as the host reports them
            capacity = Resources(override.cpu_m, override.mem_mib, capacity.extra)
        down = Host(name, capacity, reachable=False, maintenance=maintenance)
        if isinstance(answer, Missed):
            return _HostSample(down, ()), f"host {name} {answer.reason}"
        if isinstance(answer, BackendError):
            return _HostSample(down, ()), f"host {name}: {answer}"
        if answer.node is None:
            return _HostSample(down, ()), f"host {name} is unreachable"
        vms = tuple(self._vm(d) for d in answer.domains)
        usage = self._host_usage(answer.node, vms)
        return _HostSample(self._host(answer.info, capacity, usage, maintenance), vms), ""

    def _host(self, info: HostInfo, capacity: Resources, usage: Resources, maintenance: bool) -> Host:
        """The host with its pre-flight facts; a source network the map sends to one present here counts."""
        networks = info.networks
        if networks is not None:
            mapped = {source for source, dest in network_pairs(self._network_map, info.name) if dest in networks}
            networks = networks | mapped
        return Host(info.name, capacity, usage, True, maintenance, networks=networks, cpu_group=info.cpu_group,
                    cpu_models=info.cpu_models, migration_problem=info.migration_problem)

    def _vm(self, stats: DomainStats) -> Vm:
        current = CounterSample(stats.at, stats.cpu_time_ns)
        previous = self._vm_counters.get(stats.name)
        self._vm_counters[stats.name] = current
        cpu = cpu_millicores(previous, current) if stats.running else 0
        size = Resources(stats.vcpus * 1000, stats.memory_mib, stats.extra)
        usage = Resources(min(cpu or 0, size.cpu_m), stats.memory_used_mib if stats.running else 0)
        return Vm(stats.name, stats.host, size, usage, stats.running, stats.live_migratable,
                  stats.dirty_rate_mib_s, stats.networks, stats.cpu_mode, stats.cpu_model)

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
