"""The real backend: balancerd's only importer of ``libvirt`` (DESIGN rule 3).

The daemon builds a :class:`LibvirtCluster` from the config (``LibvirtCluster.from_config``) and hands it to
the collector (``hosts``, ``node_stats``, ``domain_stats``: one bulk ``getAllDomainStats`` per host), the
executor (``start_migration``, ``job_stats``, ``abort``: peer-to-peer ``migrateToURI3`` in a worker thread)
and the journal's reconciliation (``locate``). Every ``libvirtError`` leaves this module as
:class:`TransientBackendError` or :class:`PermanentBackendError` (``raise ... from exc``) with a message that
names the host and the VM. Connections (one per host, keepalive on a shared event-loop thread, re-opened with
back-off) live in ``libvirt_pool``, the event thread in ``libvirt_events``, the error table in
``libvirt_errors``, parsing in ``libvirt_parse`` and job threads in ``libvirt_jobs``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import libvirt

from balancerd.backends import libvirt_errors as errors
from balancerd.backends import libvirt_parse as parse
from balancerd.backends.base import (
    DomainStats,
    HostInfo,
    JobState,
    JobStats,
    MigrationRequest,
    NodeStats,
)
from balancerd.backends.libvirt_events import EventLoop
from balancerd.backends.libvirt_jobs import JobTable, MigrationJob, call_with_timeout
from balancerd.backends.libvirt_pool import ConnectionHooks, ConnectionPool
from balancerd.clock import Clock
from balancerd.config import Config, HostConfig
from balancerd.errors import (
    BackendError,
    MigrationAbortedError,
    PermanentBackendError,
    TransientBackendError,
)
from balancerd.model import MoveKind

_T = TypeVar("_T")

STATS_FLAGS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
               | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_VCPU
               | libvirt.VIR_DOMAIN_STATS_INTERFACE | libvirt.VIR_DOMAIN_STATS_BLOCK)
LIVE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
              | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
COLD_FLAGS = (libvirt.VIR_MIGRATE_OFFLINE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
              | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
ABORT_TIMEOUT_S = 10.0
POLICY_CACHE_S = 60.0


# ----------------------------------------------------------------------------------------- error mapping

def _code(exc: libvirt.libvirtError) -> tuple[int | None, int | None, str]:
    return exc.get_error_code(), exc.get_error_domain(), exc.get_error_message() or str(exc)


def error_class(exc: libvirt.libvirtError) -> type[BackendError]:
    """Which of our errors a libvirtError is: transient (retry later) or permanent."""
    return errors.error_class(*_code(exc))


def map_error(exc: libvirt.libvirtError, where: str) -> BackendError:
    """Our error for ``exc``, with ``where`` (host and VM) in front of libvirt's message."""
    code, _domain, message = _code(exc)
    return error_class(exc)(f"{where}: {message} (libvirt error {code})")


# ----------------------------------------------------------------------------------------- event loop

def _remove_timer(timer: int, _opaque: object) -> None:
    libvirt.virEventRemoveTimeout(timer)


def _quiet_error_handler(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; ours are raised as exceptions instead."""


def _register() -> None:
    libvirt.registerErrorHandler(_quiet_error_handler, None)
    libvirt.virEventRegisterDefaultImpl()


def _wake() -> None:
    libvirt.virEventAddTimeout(0, _remove_timer, None)  # fires at once: the loop returns and sees the stop


EVENT_LOOP = EventLoop(_register, libvirt.virEventRunDefaultImpl, _wake)


def _open(uri: str) -> Any:
    conn = libvirt.open(uri)
    with contextlib.suppress(libvirt.libvirtError):  # drivers without keepalive (test://) need none
        conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
    return conn


def _alive(conn: Any) -> bool:
    return bool(conn.isAlive())


def _close(conn: Any) -> None:
    conn.close()


LIBVIRT_HOOKS = ConnectionHooks(open=_open, close=_close, alive=_alive)


# ----------------------------------------------------------------------------------------- the cluster

class LibvirtCluster:
    """The Hypervisor protocol over one libvirt daemon per host."""

    def __init__(self, hosts: Sequence[HostConfig], clock: Clock, *, allow_unsafe: bool = False,
                 p2p_uris: Mapping[str, str] | None = None, connect_timeout_s: float = 5.0,
                 hooks: ConnectionHooks = LIBVIRT_HOOKS) -> None:
        if not hosts:
            raise PermanentBackendError("the libvirt backend needs at least one host")
        self._hosts = {h.name: h for h in hosts}
        self._clock = clock
        self._allow_unsafe = allow_unsafe
        self._p2p = {h.name: (p2p_uris or {}).get(h.name) or h.p2p_uri or h.uri for h in hosts}
        self._jobs = JobTable()
        self._info: dict[str, tuple[int, int]] = {}
        self._policy: dict[str, tuple[float, bool]] = {}
        EVENT_LOOP.acquire()
        self._closed = False
        self._pool = ConnectionPool({h.name: h.uri for h in hosts}, hooks, clock,
                                    connect_timeout_s=connect_timeout_s)

    @classmethod
    def from_config(cls, config: Config, clock: Clock) -> LibvirtCluster:
        """The backend the config describes (``[[hosts]]`` and ``throttle.allow_unsafe``)."""
        return cls(config.hosts, clock, allow_unsafe=config.throttle.allow_unsafe)

    def p2p_uri(self, host: str) -> str:
        """The URI the source daemon uses to reach ``host`` in a peer-to-peer migration."""
        return self._p2p[self._known(host)]

    # ------------------------------------------------------------------ inventory and counters

    def hosts(self) -> tuple[HostInfo, ...]:
        conns = self._pool.get_many(self._hosts)
        return tuple(self._host_info(name, conn) for name, conn in conns.items())

    def _host_info(self, name: str, conn: Any) -> HostInfo:
        reachable = not isinstance(conn, BackendError)
        if reachable:
            try:
                info = self._call(name, f"host {name}: getInfo", conn.getInfo)
                self._info[name] = (int(info[2]), int(info[1]))
            except BackendError:
                reachable = False
        cpus, memory = self._info.get(name, (0, 0))
        config = self._hosts[name]
        cpus = max(1, config.cpu_m // 1000) if config.cpu_m else cpus
        memory = config.mem_mib or memory
        return HostInfo(name, cpus, memory, reachable)

    def node_stats(self, host: str) -> NodeStats:
        conn = self._conn(host)
        where = f"host {host}: node stats"
        at = self._clock.now()
        busy = parse.node_busy_ns(self._call(host, where, lambda: conn.getCPUStats(-1, 0)))
        total, free = self._node_memory(host, conn)
        return NodeStats(host, at, busy, total, free)

    def _node_memory(self, host: str, conn: Any) -> tuple[int, int]:
        """(total, free) MiB from getMemoryStats, or getInfo + getFreeMemory where it is unsupported."""
        where = f"host {host}: node memory"
        try:
            stats = self._call(host, where, lambda: conn.getMemoryStats(-1, 0))
            return parse.kib_to_mib(int(stats["total"])), parse.kib_to_mib(int(stats["free"]))
        except PermanentBackendError:
            total = int(self._call(host, where, conn.getInfo)[1])
            return total, int(self._call(host, where, conn.getFreeMemory)) // parse.MIB

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        conn = self._conn(host)
        at = self._clock.now()
        records = self._call(host, f"host {host}: getAllDomainStats",
                             lambda: conn.getAllDomainStats(STATS_FLAGS, 0))
        persistent = self._persistent_names(host, conn)
        skip = self._jobs.incoming(host)
        rows = (self._domain_row(host, at, dom, record, persistent) for dom, record in records
                if dom.name() not in skip)
        return tuple(row for row in rows if row is not None)

    def _persistent_names(self, host: str, conn: Any) -> frozenset[str]:
        flag = libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT
        doms = self._call(host, f"host {host}: listAllDomains", lambda: conn.listAllDomains(flag))
        return frozenset(d.name() for d in doms)

    def _domain_row(self, host: str, at: float, dom: Any, record: Mapping[str, object],
                    persistent: frozenset[str]) -> DomainStats | None:
        """One DomainStats, or None when the domain vanished meanwhile (migrated, undefined)."""
        name = dom.name()
        where = f"host {host}: VM {name}"
        try:
            info = self._call(host, where, dom.info) if parse.needs_info(record) else None
            live = self._live_migratable(host, dom, at)
        except PermanentBackendError:
            return None
        facts = parse.DomainFacts(name, host, at, name in persistent, live, parse.info_tuple(info))
        return parse.domain_stats(record, facts)

    def _live_migratable(self, host: str, dom: Any, now: float) -> bool:
        """The ``<balancerd:policy live=.../>`` metadata, cached per domain UUID for a minute."""
        key = dom.UUIDString()
        cached = self._policy.get(key)
        if cached is not None and now - cached[0] < POLICY_CACHE_S:
            return cached[1]
        kind = libvirt.VIR_DOMAIN_METADATA_ELEMENT
        try:
            xml = dom.metadata(kind, parse.POLICY_NS, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != errors.NO_DOMAIN_METADATA:
                raise map_error(exc, f"host {host}: VM {dom.name()}: metadata") from exc
            xml = None
        live = parse.live_migratable(xml)
        self._policy[key] = (now, live)
        return live

    def locate(self, vm: str) -> tuple[str, ...]:
        conns = self._pool.get_many(self._hosts)
        found = (name for name, conn in conns.items()
                 if not isinstance(conn, BackendError) and self._defined_on(name, conn, vm))
        return tuple(found)

    def _defined_on(self, host: str, conn: Any, vm: str) -> bool:
        try:
            self._call(host, f"host {host}: VM {vm}", lambda: conn.lookupByName(vm))
        except BackendError:
            return False
        return True

    # ------------------------------------------------------------------ migration

    def start_migration(self, request: MigrationRequest) -> None:
        source, dest = self._known(request.source), self._known(request.dest)
        where = f"migration of VM {request.vm} {source} -> {dest}"
        if source == dest:
            raise PermanentBackendError(f"{where}: source and destination are the same host")
        if self._jobs.running(request.vm) is not None:
            raise PermanentBackendError(f"{where}: a migration of this VM is already running")
        dom = self._source_domain(request, where)
        self._conn(dest)
        flags, params = self._migration_args(request, dom, where)
        job = MigrationJob(request, self._clock.now(), dom, lambda j: self._migrate(j, flags, params))
        self._jobs.add(job)
        job.start()

    def _source_domain(self, request: MigrationRequest, where: str) -> Any:
        """The domain on the source, checked to be in the state the kind of move needs."""
        conn = self._conn(request.source)
        dom = self._call(request.source, where, lambda: conn.lookupByName(request.vm))
        active = bool(self._call(request.source, where, dom.isActive))
        if request.kind is MoveKind.COLD:
            if active:
                raise PermanentBackendError(f"{where}: a cold migration needs a shut-off VM; it is running")
            if not self._call(request.source, where, dom.isPersistent):
                raise PermanentBackendError(f"{where}: a cold migration needs a persistent (defined) VM")
        elif not active:
            raise PermanentBackendError(f"{where}: a live migration needs a running VM; it is shut off")
        elif not self._live_migratable(request.source, dom, self._clock.now()):
            raise PermanentBackendError(f"{where}: the VM's policy forbids live migration (use a cold move)")
        return dom

    def _migration_args(self, request: MigrationRequest, dom: Any, where: str) -> tuple[int, dict[str, Any]]:
        """Flags and typed parameters for migrateToURI3; sets the max downtime on the domain first."""
        params: dict[str, Any] = {}
        if request.bandwidth_mib_s > 0:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = request.bandwidth_mib_s
        if request.kind is MoveKind.COLD:
            return COLD_FLAGS, params
        flags = LIVE_FLAGS | (libvirt.VIR_MIGRATE_UNSAFE if self._allow_unsafe else 0)
        if request.kind is MoveKind.STORAGE:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
        migration_uri = self._hosts[request.dest].migration_uri
        if migration_uri:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = migration_uri
        if request.max_downtime_ms > 0:
            self._set_max_downtime(request, dom, where)
        return flags, params

    def _set_max_downtime(self, request: MigrationRequest, dom: Any, where: str) -> None:
        """``migrateSetMaxDowntime`` before the job (libvirt 9.0 has no downtime parameter for migrate3).

        A driver that does not support it (the test driver) migrates with its default.
        """
        try:
            dom.migrateSetMaxDowntime(request.max_downtime_ms, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != errors.NO_SUPPORT:
                raise map_error(exc, f"{where}: set max downtime") from exc

    def _migrate(self, job: MigrationJob, flags: int, params: dict[str, Any]) -> JobStats:
        """The worker: the blocking migrateToURI3, then the destination's completed-job stats."""
        request = job.request
        try:
            job.source_domain.migrateToURI3(self._p2p[request.dest], params, flags)
        except libvirt.libvirtError as exc:
            state = JobState.FAILED
            if error_class(exc) is MigrationAbortedError or job.abort_requested.is_set():
                state = JobState.ABORTED
            message = str(map_error(exc, f"migration of VM {request.vm} {request.source} -> {request.dest}"))
            return JobStats(request.vm, state, elapsed_ms=self._elapsed_ms(job), error=message)
        return self._completed(job)

    def _completed(self, job: MigrationJob) -> JobStats:
        vm, dest = job.request.vm, job.request.dest
        elapsed = self._elapsed_ms(job)
        try:
            conn = self._conn(dest)
            dom = self._call(dest, f"host {dest}: VM {vm}", lambda: conn.lookupByName(vm))
            stats = self._call(dest, f"host {dest}: VM {vm}: completed job",
                               lambda: dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
        except BackendError:
            return JobStats(vm, JobState.COMPLETED, elapsed_ms=elapsed)
        return parse.completed_job(vm, stats, elapsed)

    def _elapsed_ms(self, job: MigrationJob) -> int:
        return max(0, int((self._clock.now() - job.started_at) * 1000))

    def job_stats(self, vm: str) -> JobStats:
        job = self._jobs.get(vm)
        if job is None:
            return JobStats(vm, JobState.NONE)
        final = job.final
        if final is not None:
            return final
        try:
            stats = self._call(job.request.source, f"VM {vm}: job stats", job.source_domain.jobStats)
        except BackendError:
            stats = {}
        final = job.final
        if final is not None:
            return final
        if not stats or stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
            return JobStats(vm, JobState.RUNNING, elapsed_ms=self._elapsed_ms(job))
        return parse.running_job(vm, stats)

    def abort(self, vm: str) -> None:
        job = self._jobs.running(vm)
        if job is None:
            raise PermanentBackendError(f"VM {vm}: no migration is running, nothing to abort")
        where = f"abort of the migration of VM {vm} {job.request.source} -> {job.request.dest}"
        job.abort_requested.set()
        finished, error = call_with_timeout(job.source_domain.abortJob, ABORT_TIMEOUT_S)
        if isinstance(error, libvirt.libvirtError) and error_class(error) is TransientBackendError:
            raise map_error(error, where) from error
        if not job.wait(ABORT_TIMEOUT_S if finished else 1.0):
            raise TransientBackendError(f"{where}: the migration did not stop within {ABORT_TIMEOUT_S:g} s")
        self._verify_aborted(job, where)

    def _verify_aborted(self, job: MigrationJob, where: str) -> None:
        """After an abort the VM must still run on its source (lab notes pitfall 13)."""
        final = job.final
        if final is not None and final.state is JobState.COMPLETED:
            raise PermanentBackendError(f"{where}: the migration completed before the abort; "
                                        f"the VM now runs on {job.request.dest}")
        source = job.request.source
        if not self._call(source, f"{where}: check", job.source_domain.isActive):
            raise PermanentBackendError(f"{where}: the VM is not running on {source} after the abort")

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()
        EVENT_LOOP.release()

    def __enter__(self) -> LibvirtCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _known(self, host: str) -> str:
        if host not in self._hosts:
            known = ", ".join(self._hosts)
            raise PermanentBackendError(f"unknown host {host!r}; the libvirt backend knows: {known}")
        return host

    def _conn(self, host: str) -> Any:
        return self._pool.get(self._known(host))

    def _call(self, host: str, where: str, fn: Callable[[], _T]) -> _T:
        """Run one libvirt call for ``host``, mapping its error (and dropping a dead connection)."""
        try:
            return fn()
        except libvirt.libvirtError as exc:
            if errors.is_connection_error(exc.get_error_code(), exc.get_error_domain()):
                self._pool.drop(host, exc.get_error_message() or str(exc))
            raise map_error(exc, where) from exc
