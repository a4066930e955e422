"""The real backend: balancerd's only importer of ``libvirt`` (ARCHITECTURE.md rule 3).

The daemon builds a :class:`LibvirtCluster` from the config (``LibvirtCluster.from_config``) and hands it to
the collector (``hosts``, ``node_stats``, ``domain_stats``: one bulk ``getAllDomainStats`` per host), the
executor (``start_migration``, ``job_stats``, ``abort``: peer-to-peer ``migrateToURI3`` in a worker thread)
and the journal's reconciliation (``locate``, ``inspect``, ``resume``, ``undefine``). Every ``libvirtError``
leaves this module as
:class:`TransientBackendError` or :class:`PermanentBackendError` (``raise ... from exc``) with a message that
names the host and the VM. Connections (one per host, keepalive on a shared event-loop thread, re-opened with
back-off) live in ``pool``, the event thread in ``events``, the error table in
``errors``, parsing in ``parse``, job threads in ``jobs``, inventory, counters, VM
policies and reconciliation reads in ``inventory`` (through this class's :class:`Calls` methods),
and the pre-flight checks, cold moves and disk moves in ``moves``. What stays here is what needs
``libvirt`` itself: connections, error mapping, and starting, steering and aborting migration jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import libvirt

from balancerd.backends.base import (
    DomainStats,
    HostInfo,
    JobState,
    JobStats,
    MigrationRequest,
    MoveFacts,
    NodeStats,
    Placement,
    PoolInfo,
)
from balancerd.backends.libvirt import errors, moves, parse, provision, storage
from balancerd.backends.libvirt.events import EventLoop
from balancerd.backends.libvirt.inventory import Inventory
from balancerd.backends.libvirt.jobs import JobTable, MigrationJob, call_with_timeout
from balancerd.backends.libvirt.pool import ConnectionHooks, ConnectionPool
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

LIVE_FLAGS = moves.LIVE_FLAGS
COLD_FLAGS = moves.COLD_FLAGS
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
ABORT_TIMEOUT_S = 10.0


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
                 hooks: ConnectionHooks = LIBVIRT_HOOKS, shared_paths: Sequence[str] = (),
                 dirty_rate_calc_s: int = 1) -> None:
        if not hosts:
            raise PermanentBackendError("the libvirt backend needs at least one host")
        self._hosts = {h.name: h for h in hosts}
        self._clock = clock
        self._allow_unsafe = allow_unsafe
        self._p2p = {h.name: (p2p_uris or {}).get(h.name) or h.p2p_uri or h.uri for h in hosts}
        self._jobs = JobTable()
        self._shared = tuple(shared_paths)
        self._inventory = Inventory(self._hosts, clock, self, self._jobs.incoming, dirty_rate_calc_s, self._shared,
                                    self._migration_problem)
        EVENT_LOOP.acquire()
        self._closed = False
        self._pool = ConnectionPool({h.name: h.uri for h in hosts}, hooks, clock,
                                    connect_timeout_s=connect_timeout_s)

    @classmethod
    def from_config(cls, config: Config, clock: Clock) -> LibvirtCluster:
        """The backend the config describes (``[[hosts]]``, ``throttle.allow_unsafe``, ``[migration]``)."""
        return cls(config.hosts, clock, allow_unsafe=config.throttle.allow_unsafe,
                   shared_paths=config.migration.shared_paths,
                   dirty_rate_calc_s=config.migration.dirty_rate_calc_s)

    def p2p_uri(self, host: str) -> str:
        """The URI the source daemon uses to reach ``host`` in a peer-to-peer migration."""
        return self._p2p[self._known(host)]

    # ------------------------------------------------------------------ inventory and counters

    def hosts(self) -> tuple[HostInfo, ...]:
        return self._inventory.hosts()

    def host_names(self) -> tuple[str, ...]:
        return tuple(self._hosts)

    def host_info(self, host: str) -> HostInfo:
        return self._inventory.host_info(self._known(host))

    def reset_host(self, host: str, reason: str) -> None:
        self._pool.abandon(self._known(host), reason)

    def node_stats(self, host: str) -> NodeStats:
        return self._inventory.node_stats(host)

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        return self._inventory.domain_stats(host)

    def locate(self, vm: str) -> tuple[str, ...]:
        return self._inventory.locate(vm)

    # ------------------------------------------------------------------ migration

    def start_migration(self, request: MigrationRequest) -> None:
        source, dest = self._known(request.source), self._known(request.dest)
        where = f"migration of VM {request.vm} {source} -> {dest}"
        if source == dest:
            raise PermanentBackendError(f"{where}: source and destination are the same host")
        if self._jobs.running(request.vm) is not None:
            raise PermanentBackendError(f"{where}: a migration of this VM is already running")
        dom = moves.source_domain(self, self._inventory, request, where, self._clock.now())
        self._conn(dest)
        if request.kind is MoveKind.COLD:
            job = MigrationJob(request, self._clock.now(), dom, self._cold)
        else:
            flags, params = self._migration_args(request, dom, where)
            job = MigrationJob(request, self._clock.now(), dom, lambda j: self._migrate(j, flags, params))
        self._jobs.add(job)
        job.start()

    def _migration_args(self, request: MigrationRequest, dom: Any, where: str) -> tuple[int, dict[str, Any]]:
        """Flags and typed parameters for migrateToURI3; sets the max downtime on the domain first."""
        params = self._call(request.source, where, lambda: moves.params_for(
            request, self._hosts[request.dest].migration_uri, dom))
        flags = moves.flags_for(request, self._allow_unsafe)
        if request.max_downtime_ms > 0:
            self._set_max_downtime(request, dom, where)
        return flags, params

    def _set_max_downtime(self, request: MigrationRequest, dom: Any, where: str) -> None:
        """``migrateSetMaxDowntime`` before the job (libvirt 9.0 has no downtime parameter for migrate3).

        A driver that does not support it (the test driver) migrates with its default.
        """
        self.tolerate(f"{where}: set max downtime", lambda: dom.migrateSetMaxDowntime(request.max_downtime_ms, 0),
                      (errors.NO_SUPPORT,))

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

    def _cold(self, job: MigrationJob) -> JobStats:
        """The worker of a cold move (mapped errors end it FAILED)."""
        request = job.request
        try:
            return moves.cold_move(self._call, request, job.source_domain, lambda: self._conn(request.dest),
                                   self._p2p[request.dest], self._clock)
        except BackendError as exc:
            return JobStats(request.vm, JobState.FAILED, elapsed_ms=self._elapsed_ms(job), error=str(exc))

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
        running = parse.running_job(vm, stats)
        self._inventory.note_dirty_rate(vm, running.dirty_rate_mib_s)
        return running

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

    # ------------------------------------------------------------------ pre-flight and steering

    def preflight(self, request: MigrationRequest) -> MoveFacts:
        _source, dest = self._known(request.source), self._known(request.dest)
        return moves.preflight(self, self._inventory, request, self._hosts[dest].migration_uri, self._shared,
                               self._clock.now())

    def set_max_downtime(self, vm: str, downtime_ms: int) -> None:
        job = self._running_job(vm, "set the max downtime")
        self._call(job.request.source, f"VM {vm}: set max downtime {downtime_ms} ms",
                   lambda: job.source_domain.migrateSetMaxDowntime(downtime_ms, 0))

    def start_postcopy(self, vm: str) -> None:
        job = self._running_job(vm, "switch to post-copy")
        if not job.request.postcopy:
            raise PermanentBackendError(f"VM {vm}: the migration was not started with post-copy allowed")
        self._call(job.request.source, f"VM {vm}: start post-copy", lambda: job.source_domain.migrateStartPostCopy(0))

    def _running_job(self, vm: str, what: str) -> MigrationJob:
        job = self._jobs.running(vm)
        if job is None:
            raise PermanentBackendError(f"VM {vm}: no migration is running, cannot {what}")
        return job

    def start_disk_move(self, vm: str, host: str, disk: str, pool: str) -> None:
        host = self._known(host)
        where = f"host {host}: VM {vm}: move disk {disk} to pool {pool}"
        conn = self._conn(host)
        dom = self._call(host, where, lambda: conn.lookupByName(vm))
        target = next((p for p in storage.pool_infos(self._call, host, conn) if p.name == pool), None)
        if target is None or not target.path:
            raise PermanentBackendError(f"{where}: no storage pool {pool!r} with a target path")
        request = MigrationRequest(vm, host, host, MoveKind.STORAGE)
        job = MigrationJob(request, self._clock.now(), dom, lambda j: self._disk_worker(j, disk, target.path))
        self._jobs.add(job)
        job.start()

    def _disk_worker(self, job: MigrationJob, disk: str, path: str) -> JobStats:
        request = job.request
        try:
            return moves.disk_move(self._call, request.source, request.vm, job.source_domain, disk, path,
                                   self._clock)
        except BackendError as exc:
            return JobStats(request.vm, JobState.FAILED, elapsed_ms=self._elapsed_ms(job), error=str(exc))

    def storage_pools(self, host: str) -> tuple[PoolInfo, ...]:
        return storage.pool_infos(self._call, self._known(host), self._conn(host))

    # ------------------------------------------------------------------ new guests (balancerd import)

    def upload_volume(self, host: str, pool: str, name: str, source: Path, fmt: str, capacity: int,
                      progress: Callable[[int], None] | None = None) -> str:
        return provision.upload(self._call, self._known(host), self._conn(host), pool, name, source, fmt,
                                capacity, progress)

    def delete_volume(self, host: str, pool: str, name: str) -> None:
        provision.delete(self._call, self._known(host), self._conn(host), pool, name)

    def define_domain(self, host: str, xml: str) -> str:
        return provision.define(self._call, self._known(host), self._conn(host), xml)

    def start_domain(self, vm: str, host: str) -> None:
        provision.start(self._call, self._known(host), self._conn(host), vm)

    # ------------------------------------------------------------------ reconciliation

    def inspect(self, vm: str) -> tuple[Placement, ...]:
        return self._inventory.inspect(vm)

    def resume(self, vm: str, host: str) -> None:
        self._inventory.resume(vm, host)

    def undefine(self, vm: str, host: str) -> None:
        self._inventory.undefine(vm, host)

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

    # The inventory.Calls methods (public for the helper modules; not part of the Hypervisor protocol).

    def conn(self, host: str) -> Any:
        return self._conn(host)

    def conns(self) -> Mapping[str, Any]:
        return self._pool.get_many(self._hosts)

    def _migration_problem(self, host: str, conn: Any) -> str:
        """Pre-flight's migration-network check as a planning fact: why it fails ("" when it passes)."""
        check = moves.check_migration_network(self._call, host, conn, self._hosts[host].migration_uri)
        return "" if check.ok else check.detail

    def call(self, host: str, where: str, fn: Callable[[], _T]) -> _T:
        return self._call(host, where, fn)

    def tolerate(self, where: str, fn: Callable[[], _T],
                 codes: Collection[int] | None) -> tuple[_T | None, int | None]:
        """``(fn(), None)``, or ``(None, code)`` when libvirt fails with a code in ``codes`` (any, if None)."""
        try:
            return fn(), None
        except libvirt.libvirtError as exc:
            code = exc.get_error_code()
            if codes is None or code in codes:
                return None, code
            raise map_error(exc, where) from exc

    def _call(self, host: str, where: str, fn: Callable[[], _T]) -> _T:
        """Run one libvirt call for ``host``, mapping its error (and dropping a dead connection)."""
        try:
            return fn()
        except libvirt.libvirtError as exc:
            if errors.is_connection_error(exc.get_error_code(), exc.get_error_domain()):
                self._pool.drop(host, exc.get_error_message() or str(exc))
            raise map_error(exc, where) from exc
