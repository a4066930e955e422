"""What the libvirt backend reads about hosts and domains: inventory, counters, policies, where a VM is.

Called only by ``backends.libvirt.cluster`` (:class:`~balancerd.backends.libvirt.LibvirtCluster` delegates
``hosts``, ``node_stats``, ``domain_stats``, ``locate``, ``inspect``, ``resume`` and ``undefine`` here and
asks for VM policies and last known dirty rates). One bulk ``getAllDomainStats`` per host (and, with the
host's networks, CPU model and local-disk pools (:mod:`storage`), one of block stats a minute); libvirt's
dirty-rate calculation is started on running domains every :data:`DIRTY_CALC_EVERY_S` and read by the
next collection, with the last migration's job figure as the fallback. The libvirt calls go through a
:class:`Calls` the backend implements (it maps every ``libvirtError``), so this module needs no ``libvirt``
import (ARCHITECTURE.md rule 3); the flag values below are libvirt's stable ABI, checked against the bindings in
tests/unit/backends/libvirt/test_inventory.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from balancerd.backends.base import DomainState, DomainStats, HostInfo, NodeStats, Placement, VmPolicy
from balancerd.backends.libvirt import domxml as dxml
from balancerd.backends.libvirt import errors, parse, storage
from balancerd.clock import Clock
from balancerd.config import HostConfig
from balancerd.errors import BackendError, PermanentBackendError
from balancerd.model import Extra

_T = TypeVar("_T")

STATS_STATE = 1
STATS_CPU_TOTAL = 2
STATS_BALLOON = 4
STATS_VCPU = 8
STATS_INTERFACE = 16
STATS_BLOCK = 32
STATS_DIRTYRATE = 512
STATS_FLAGS = (STATS_STATE | STATS_CPU_TOTAL | STATS_BALLOON | STATS_VCPU | STATS_INTERFACE | STATS_BLOCK
               | STATS_DIRTYRATE)
LIST_DOMAINS_PERSISTENT = 4
METADATA_ELEMENT = 2
JOB_NONE = 0
DOMAIN_RUNNING = 1
DOMAIN_BLOCKED = 2
DOMAIN_PAUSED = 3
DOMAIN_SHUTOFF = 5
DIRTY_CALC_EVERY_S = 30.0
POLICY_CACHE_S = 60.0
LIST_NETWORKS_ACTIVE = 2

HostFacts = tuple[frozenset[str] | None, str, Extra, str]
"""(networks, CPU model, local-disk pool capacities, migration-network problem) of one host."""
VmFacts = tuple[frozenset[str], str, str, tuple[str, ...]]
"""(networks, CPU mode, CPU model, paths of the local disks) of one domain."""

_STATES = {DOMAIN_RUNNING: DomainState.RUNNING, DOMAIN_BLOCKED: DomainState.RUNNING,
           DOMAIN_PAUSED: DomainState.PAUSED, DOMAIN_SHUTOFF: DomainState.SHUTOFF}


class Calls(Protocol):
    """The backend's libvirt plumbing: connections and calls with their errors mapped to ours."""

    def conn(self, host: str) -> Any:
        """The open connection to ``host`` (raises TransientBackendError while it cannot be had)."""
        ...

    def conns(self) -> Mapping[str, Any]:
        """Every host's connection, or the BackendError that says why there is none."""
        ...

    def call(self, host: str, where: str, fn: Callable[[], _T]) -> _T:
        """``fn()``, a libvirtError mapped to our error with ``where`` in front."""
        ...

    def tolerate(self, where: str, fn: Callable[[], _T],
                 codes: Collection[int] | None) -> tuple[_T | None, int | None]:
        """``(fn(), None)``, or ``(None, code)`` for a libvirtError whose code is in ``codes`` (any code when
        None); other errors are raised mapped."""
        ...


class Inventory:
    """Hosts, counters, VM policies and dirty rates, and where VMs are, over the backend's :class:`Calls`."""

    def __init__(self, hosts: Mapping[str, HostConfig], clock: Clock, calls: Calls,
                 incoming: Callable[[str], Collection[str]], dirty_rate_calc_s: int = 1,
                 shared_paths: tuple[str, ...] = (),
                 migration_problem: Callable[[str, Any], str] = lambda _host, _conn: "") -> None:
        self._hosts = hosts
        self._shared = shared_paths
        self._migration_problem = migration_problem
        """Why host (name, connection) is not reachable on its migration network ("" = it is): pre-flight's check."""
        self._clock = clock
        self._calls = calls
        self._incoming = incoming
        self._dirty_calc_s = dirty_rate_calc_s
        self._info: dict[str, tuple[int, int]] = {}
        self._facts: dict[str, tuple[float, HostFacts]] = {}
        self._vm_facts: dict[str, tuple[float, VmFacts]] = {}
        self._policy: dict[str, tuple[float, VmPolicy]] = {}
        self._dirty_kicked: dict[str, float] = {}
        self._dirty: dict[str, int] = {}

    # ------------------------------------------------------------------ hosts and counters

    def hosts(self) -> tuple[HostInfo, ...]:
        return tuple(self._host_info(name, conn) for name, conn in self._calls.conns().items())

    def host_info(self, name: str) -> HostInfo:
        """One host's inventory (the collector asks each host in a worker of its own)."""
        try:
            conn: Any = self._calls.conn(name)
        except BackendError as exc:
            conn = exc
        return self._host_info(name, conn)

    def _host_info(self, name: str, conn: Any) -> HostInfo:
        reachable = not isinstance(conn, BackendError)
        if reachable:
            try:
                info = self._calls.call(name, f"host {name}: getInfo", conn.getInfo)
                self._info[name] = (int(info[2]), int(info[1]))
            except BackendError:
                reachable = False
        cpus, memory = self._info.get(name, (0, 0))
        config = self._hosts[name]
        cpus = max(1, config.cpu_m // 1000) if config.cpu_m else cpus
        memory = config.mem_mib or memory
        if not reachable:
            return HostInfo(name, cpus, memory, reachable)
        networks, group, pools, problem = self._host_facts(name, conn)
        return HostInfo(name, cpus, memory, reachable, networks=networks, cpu_group=config.cpu_group or group,
                        extra=pools, migration_problem=problem)

    def _host_facts(self, name: str, conn: Any) -> HostFacts:
        """Networks, CPU model, local-disk pools and the migration network of a host, read at most once a
        minute. Usable CPU models are not read: the domain capabilities' ``usable`` flag disagrees with
        ``compareHypervisorCPU`` (measured in the lab: qemu64 is ``usable='no'`` under kvm while every guest
        with it migrates), so pre-flight stays the judge there."""
        now = self._clock.now()
        cached = self._facts.get(name)
        if cached is not None and now - cached[0] < POLICY_CACHE_S:
            return cached[1]
        facts = (self._networks(name, conn), self._cpu_model(name, conn), self._pools(name, conn, now),
                 self._migration_problem(name, conn))
        self._facts[name] = (now, facts)
        return facts

    def _pools(self, name: str, conn: Any, now: float) -> Extra:
        """Local-disk pool capacities (:mod:`storage`); none when pools or block stats cannot be read, as then
        pre-flight refuses every local disk there too."""
        pools, _code = self._calls.tolerate(f"host {name}: storage pools",
                                            lambda: storage.pool_infos(self._calls.call, name, conn), None)
        records, _code = self._calls.tolerate(f"host {name}: block stats",
                                              lambda: conn.getAllDomainStats(STATS_BLOCK, 0), None)
        if not pools or records is None:
            return ()
        resident: dict[str, int] = {}
        for dom, record in records:
            for resource, mib in storage.disk_extra(self._local_disks(name, dom, now), storage.disk_sizes(record)):
                resident[resource] = resident.get(resource, 0) + mib
        return storage.pool_capacity(pools, self._shared, resident)

    def _local_disks(self, host: str, dom: Any, now: float) -> tuple[str, ...]:
        """The local disk paths of a domain; none when it vanished meanwhile (migrated, undefined)."""
        try:
            return self._domain_facts(host, dom, now)[3]
        except BackendError:
            return ()

    def _networks(self, name: str, conn: Any) -> frozenset[str] | None:
        """Active networks and interfaces; None (not checked) when interfaces cannot be listed, as pre-flight."""
        nets, _code = self._calls.tolerate(f"host {name}: networks", lambda: conn.listAllNetworks(LIST_NETWORKS_ACTIVE),
                                           None)
        ifaces, _code = self._calls.tolerate(f"host {name}: interfaces", lambda: conn.listAllInterfaces(0), None)
        if nets is None or not ifaces:
            return None
        return frozenset(n.name() for n in nets) | frozenset(i.name() for i in ifaces)

    def _cpu_model(self, name: str, conn: Any) -> str:
        caps, _code = self._calls.tolerate(f"host {name}: capabilities", conn.getCapabilities, None)
        return dxml.host_cpu_model(caps) if caps else ""

    def node_stats(self, host: str) -> NodeStats:
        conn = self._calls.conn(host)
        at = self._clock.now()
        busy = parse.node_busy_ns(self._calls.call(host, f"host {host}: node stats",
                                                   lambda: conn.getCPUStats(-1, 0)))
        total, free = self._node_memory(host, conn)
        return NodeStats(host, at, busy, total, free)

    def _node_memory(self, host: str, conn: Any) -> tuple[int, int]:
        """(total, free) MiB from getMemoryStats, or getInfo + getFreeMemory where it is unsupported."""
        where = f"host {host}: node memory"
        try:
            stats = self._calls.call(host, where, lambda: conn.getMemoryStats(-1, 0))
            return parse.kib_to_mib(int(stats["total"])), parse.kib_to_mib(int(stats["free"]))
        except PermanentBackendError:
            total = int(self._calls.call(host, where, conn.getInfo)[1])
            return total, int(self._calls.call(host, where, conn.getFreeMemory)) // parse.MIB

    def capacity_mib(self, host: str) -> int:
        """The configured memory of ``host``, else what libvirt reports."""
        if self._hosts[host].mem_mib:
            return self._hosts[host].mem_mib
        conn = self._calls.conn(host)
        return int(self._calls.call(host, f"host {host}: getInfo", conn.getInfo)[1])

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        conn = self._calls.conn(host)
        at = self._clock.now()
        records = self._calls.call(host, f"host {host}: getAllDomainStats",
                                   lambda: conn.getAllDomainStats(STATS_FLAGS, 0))
        persistent = self._persistent_names(host, conn)
        skip = self._incoming(host)
        rows = (self._domain_row(host, at, dom, record, persistent) for dom, record in records
                if dom.name() not in skip)
        result = tuple(row for row in rows if row is not None)
        self._kick_dirty_rate(records, at)
        return result

    def _kick_dirty_rate(self, records: Sequence[tuple[Any, Mapping[str, object]]], now: float) -> None:
        """Start libvirt's dirty-rate calculation on running domains (read by the next collection)."""
        if self._dirty_calc_s <= 0:
            return
        for dom, record in records:
            key = dom.UUIDString()
            if record.get("state.state") != parse.STATE_RUNNING or now - self._dirty_kicked.get(key, -1e18) < \
                    DIRTY_CALC_EVERY_S:
                continue
            self._dirty_kicked[key] = now
            start = functools.partial(dom.startDirtyRateCalc, self._dirty_calc_s, 0)
            _done, code = self._calls.tolerate("dirty rate", start, None)
            if code in (errors.NO_SUPPORT, errors.OPERATION_UNSUPPORTED):
                self._dirty_calc_s = 0  # this daemon cannot: job stats are the fallback
                return

    def _persistent_names(self, host: str, conn: Any) -> frozenset[str]:
        doms = self._calls.call(host, f"host {host}: listAllDomains",
                                lambda: conn.listAllDomains(LIST_DOMAINS_PERSISTENT))
        return frozenset(d.name() for d in doms)

    def _domain_row(self, host: str, at: float, dom: Any, record: Mapping[str, object],
                    persistent: frozenset[str]) -> DomainStats | None:
        """One DomainStats, or None when the domain vanished meanwhile (migrated, undefined)."""
        name = dom.name()
        where = f"host {host}: VM {name}"
        try:
            info = self._calls.call(host, where, dom.info) if parse.needs_info(record) else None
            live = self.vm_policy(host, dom, at).live
            networks, cpu_mode, cpu_model, local = self._domain_facts(host, dom, at)
        except PermanentBackendError:
            return None
        facts = parse.DomainFacts(name, host, at, name in persistent, live, parse.info_tuple(info))
        row = replace(parse.domain_stats(record, facts), networks=networks, cpu_mode=cpu_mode, cpu_model=cpu_model,
                      extra=storage.disk_extra(local, storage.disk_sizes(record)))
        if row.dirty_rate_mib_s:
            self._dirty[name] = row.dirty_rate_mib_s
        elif self._dirty.get(name):
            row = replace(row, dirty_rate_mib_s=self._dirty[name])  # measured by the last migration's job
        return row

    # ------------------------------------------------------------------ per-VM facts

    def vm_policy(self, host: str, dom: Any, now: float) -> VmPolicy:
        """The ``<balancerd:policy .../>`` metadata, cached per domain UUID for a minute."""
        key = dom.UUIDString()
        cached = self._policy.get(key)
        if cached is not None and now - cached[0] < POLICY_CACHE_S:
            return cached[1]
        where = f"host {host}: VM {dom.name()}: metadata"
        xml, _code = self._calls.tolerate(where, lambda: dom.metadata(METADATA_ELEMENT, parse.POLICY_NS, 0),
                                          (errors.NO_DOMAIN_METADATA,))
        policy = dxml.vm_policy(xml)
        self._policy[key] = (now, policy)
        return policy

    def _domain_facts(self, host: str, dom: Any, now: float) -> VmFacts:
        """The NICs' networks, the CPU definition and the local disks from the domain XML pre-flight reads, cached
        per UUID for a minute."""
        key = dom.UUIDString()
        cached = self._vm_facts.get(key)
        if cached is not None and now - cached[0] < POLICY_CACHE_S:
            return cached[1]
        xml = self._calls.call(host, f"host {host}: VM {dom.name()}: XML", lambda: dom.XMLDesc(0))
        try:
            local = tuple(d.path for d in dxml.local_disks(xml, self._shared))
            facts = (frozenset(nic.source for nic in dxml.interfaces(xml)), *dxml.cpu_definition(xml), local)
        except ValueError as exc:
            raise PermanentBackendError(f"host {host}: VM {dom.name()}: {exc}") from exc
        self._vm_facts[key] = (now, facts)
        return facts

    def dirty_rate(self, vm: str) -> int:
        """The last dirty rate measured for ``vm`` (MiB/s; 0 when none was)."""
        return self._dirty.get(vm, 0)

    def note_dirty_rate(self, vm: str, mib_s: int) -> None:
        """Remember a dirty rate a running migration's job stats measured."""
        if mib_s:
            self._dirty[vm] = mib_s

    # ------------------------------------------------------------------ where VMs are (reconciliation)

    def locate(self, vm: str) -> tuple[str, ...]:
        found = (name for name, conn in self._calls.conns().items()
                 if not isinstance(conn, BackendError) and self._defined_on(name, conn, vm))
        return tuple(found)

    def _defined_on(self, host: str, conn: Any, vm: str) -> bool:
        try:
            self._calls.call(host, f"host {host}: VM {vm}", lambda: conn.lookupByName(vm))
        except BackendError:
            return False
        return True

    def inspect(self, vm: str) -> tuple[Placement, ...]:
        found = (self._placement(name, conn, vm) for name, conn in self._calls.conns().items()
                 if not isinstance(conn, BackendError))
        return tuple(p for p in found if p is not None)

    def _placement(self, host: str, conn: Any, vm: str) -> Placement | None:
        where = f"host {host}: VM {vm}"
        call = self._calls.call
        try:
            dom = call(host, where, lambda: conn.lookupByName(vm))
            state = int(call(host, where, dom.state)[0])
            persistent = bool(call(host, where, dom.isPersistent))
            job = call(host, where, dom.jobInfo)
        except PermanentBackendError:
            return None
        kind = _STATES.get(state, DomainState.OTHER)
        return Placement(host, kind, persistent, int(job[0]) != JOB_NONE)

    def resume(self, vm: str, host: str) -> None:
        conn = self._calls.conn(host)
        dom = self._calls.call(host, f"host {host}: VM {vm}", lambda: conn.lookupByName(vm))
        self._calls.call(host, f"host {host}: resume VM {vm}", dom.resume)

    def undefine(self, vm: str, host: str) -> None:
        conn = self._calls.conn(host)
        where = f"host {host}: undefine VM {vm}"
        dom = self._calls.call(host, where, lambda: conn.lookupByName(vm))
        if self._calls.call(host, where, dom.isActive):
            raise PermanentBackendError(f"{where}: it runs there; only inactive copies are removed")
        self._calls.call(host, where, dom.undefine)
