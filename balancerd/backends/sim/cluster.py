"""A simulated cluster that implements the :class:`~balancerd.backends.base.Hypervisor` protocol.

The unit and scenario tests, ``balancerd plan``/``simulate`` on a demo config, the demo daemon and the
benchmarks all drive the pipeline through :class:`SimCluster` instead of libvirt. Everything is computed
lazily from the injected clock (no threads): CPU counters are integrated on read, migrations (at the speed
``config.migration_speed`` gives for the link and the request's cap, ``backends.sim.migration``) end when
the clock passes their end time. One lock guards the state, because the daemon's scheduler thread and the
CLI's status reader may call at the same time.

Test hooks beyond the protocol: :meth:`SimCluster.set_host_down`, :meth:`SimCluster.fail_next_migration`,
:meth:`SimCluster.set_cpu_pct`, :meth:`SimCluster.set_dirty_rate` and :meth:`SimCluster.placement`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from balancerd.backends.base import (
    Check,
    DomainState,
    DomainStats,
    HostInfo,
    JobState,
    JobStats,
    MigrationRequest,
    MoveFacts,
    NodeStats,
    Placement,
    PoolInfo,
    VmPolicy,
)
from balancerd.backends.sim import fromconfig
from balancerd.backends.sim.checks import fact_checks, storage
from balancerd.backends.sim.migration import SimJob, new_job, postcopy
from balancerd.backends.sim.specs import CpuPct, HostState, SimHost, SimVm, VmState
from balancerd.clock import Clock
from balancerd.config import DEFAULT_LINK_MIB_S, SimConfig, migration_speed
from balancerd.errors import PermanentBackendError, TransientBackendError
from balancerd.model import POOL_PREFIX, Extra, MoveKind

NODE_OVERHEAD_CPU_M = 50
"""CPU the host itself uses beyond its VMs, in millicores (counted in node_stats only)."""
NODE_OVERHEAD_MEM_MIB = 1024
"""Memory the host itself uses beyond its VMs (counted in node_stats only)."""


_NO_IMPORT = "the simulated cluster holds no disks or domain definitions: use `balancerd import --dry-run` on it"


class SimCluster:
    """A simulated cluster of hosts and VMs driven by the injected clock."""

    def __init__(self, hosts: Sequence[SimHost], vms: Sequence[SimVm], clock: Clock,
                 link_mib_s: int = DEFAULT_LINK_MIB_S) -> None:
        if link_mib_s <= 0:
            raise ValueError("link_mib_s must be positive")
        self._clock = clock
        self._link_mib_s = link_mib_s
        self._lock = threading.RLock()
        now = clock.now()
        self._hosts = {h.name: HostState(h, now) for h in hosts}
        if len(self._hosts) != len(hosts):
            raise ValueError("host names must be unique")
        self._vms: dict[str, VmState] = {}
        for spec in vms:
            self._add_vm(spec, now)
        self._running: dict[str, SimJob] = {}
        self._last_job: dict[str, SimJob] = {}
        self._injected: dict[str, tuple[str, bool]] = {}
        self._hung: dict[str, threading.Event] = {}
        self.resets: list[tuple[str, str]] = []

    def _add_vm(self, spec: SimVm, now: float) -> None:
        if spec.name in self._vms:
            raise ValueError(f"duplicate VM name {spec.name!r}")
        if spec.host not in self._hosts:
            raise ValueError(f"VM {spec.name!r} is on unknown host {spec.host!r}")
        state = VmState(spec, now)
        self._vms[spec.name] = state
        self._hosts[spec.host].vms[spec.name] = state

    @classmethod
    def from_config(cls, cfg: SimConfig, clock: Clock, *, link_mib_s: int = DEFAULT_LINK_MIB_S) -> SimCluster:
        """The cluster of ``[sim]`` (:func:`~balancerd.backends.sim.fromconfig.configured`) on a migration link
        of ``link_mib_s`` (``[migration] link_mib_s``)."""
        hosts, vms = fromconfig.configured(cfg, clock.now())
        return cls(hosts, vms, clock, link_mib_s=link_mib_s)

    # --- the Hypervisor protocol -------------------------------------------------------------------

    def hosts(self) -> tuple[HostInfo, ...]:
        """Every host, ``reachable`` False while injected down."""
        with self._lock:
            return tuple(_info(h) for h in self._hosts.values())

    def host_names(self) -> tuple[str, ...]:
        return tuple(self._hosts)

    def host_info(self, host: str) -> HostInfo:
        """One host, ``reachable`` False while injected down; blocks while the host hangs (:meth:`hang`)."""
        self._wait_if_hung(host)
        with self._lock:
            return _info(self._host(host))

    def reset_host(self, host: str, reason: str) -> None:
        """Recorded for tests (the simulation has no connection to drop)."""
        self.resets.append((host, reason))

    def node_stats(self, host: str) -> NodeStats:
        """Busy CPU time of the host (its VMs' plus a small overhead) and its memory."""
        self._wait_if_hung(host)
        with self._lock:
            now = self._settle()
            state = self._reachable_host(host)
            vm_ns = sum(vm.integrate(now) - vm.arrival_ns for vm in state.vms.values())
            overhead_ns = int(NODE_OVERHEAD_CPU_M * 1e6 * max(0.0, now - state.created_at))
            used = NODE_OVERHEAD_MEM_MIB + sum(vm.used_mib for vm in state.vms.values())
            used += sum(self._vms[job.vm].used_mib for job in self._running.values() if job.dest == host)
            total = state.spec.memory_mib
            return NodeStats(host=host, at=now, cpu_time_ns=state.base_ns + vm_ns + overhead_ns,
                             memory_total_mib=total, memory_free_mib=max(0, total - used))

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        """Counters of every VM on ``host`` (a migrating VM stays on its source until it completes)."""
        self._wait_if_hung(host)
        with self._lock:
            now = self._settle()
            state = self._reachable_host(host)
            return tuple(self._domain(vm, now) for vm in state.vms.values())

    def _domain(self, vm: VmState, now: float) -> DomainStats:
        spec = vm.spec
        return DomainStats(name=spec.name, host=vm.host, at=now, running=True, vcpus=spec.vcpus,
                           memory_mib=spec.memory_mib, cpu_time_ns=vm.integrate(now),
                           memory_used_mib=vm.used_mib, dirty_rate_mib_s=vm.dirty_rate,
                           live_migratable=spec.live_migratable, networks=spec.networks, cpu_mode=spec.cpu_mode,
                           cpu_model=spec.cpu_model, extra=_named(spec.resources, spec.disks))

    def start_migration(self, request: MigrationRequest) -> None:
        """Validate and start a migration job that then runs in simulated time."""
        with self._lock:
            now = self._settle()
            vm = self._validate(request)
            error, transient = self._injected.pop(request.vm, (None, False))
            if error is not None and transient:
                raise TransientBackendError(f"migration of {request.vm} from {request.source} to "
                                            f"{request.dest} failed to start: {error}")
            bandwidth = migration_speed(self._link_mib_s, request.bandwidth_mib_s)
            job = new_job(request.vm, request.source, request.dest, request.kind, now, vm.spec.memory_mib,
                          bandwidth, vm.dirty_rate, request.max_downtime_ms, injected_error=error)
            self._running[request.vm] = job
            self._last_job[request.vm] = job

    def _validate(self, request: MigrationRequest) -> VmState:
        """The VM to move, or the Permanent/Transient error that says why it cannot move now."""
        vm = self._vm(request.vm)
        where = f"migration of {request.vm} from {request.source} to {request.dest}"
        for name in (request.source, request.dest):
            if name not in self._hosts:
                raise PermanentBackendError(f"{where}: unknown host {name!r}")
        if request.source == request.dest:
            raise PermanentBackendError(f"{where}: source and destination are the same host")
        if vm.host != request.source:
            raise PermanentBackendError(f"{where}: {request.vm} runs on {vm.host}, not on {request.source}")
        if request.vm in self._running:
            raise PermanentBackendError(f"{where}: a migration of {request.vm} is already running")
        if request.kind is not MoveKind.COLD and not vm.spec.live_migratable:
            raise PermanentBackendError(f"{where}: {request.vm} is not live-migratable (use a cold move)")
        for name in (request.source, request.dest):
            if self._hosts[name].down:
                raise TransientBackendError(f"{where}: host {name} does not answer")
        return vm

    def job_stats(self, vm: str) -> JobStats:
        """Progress of the VM's current or last migration; state NONE if it never migrated (or is unknown)."""
        with self._lock:
            now = self._settle()
            job = self._last_job.get(vm)
            return JobStats(vm=vm, state=JobState.NONE) if job is None else job.stats(now)

    def abort(self, vm: str) -> None:
        """Abort the VM's running migration: ABORTED, the VM stays on its source."""
        with self._lock:
            now = self._settle()
            self._vm(vm)
            job = self._running.get(vm)
            if job is None:
                raise PermanentBackendError(f"cannot abort the migration of {vm}: none is running")
            self._end_job(job.end(now, JobState.ABORTED, "migration aborted on request"))

    def locate(self, vm: str) -> tuple[str, ...]:
        """The host where ``vm`` is defined if it answers; empty for an unknown VM or a host that is down."""
        with self._lock:
            self._settle()
            state = self._vms.get(vm)
            if state is None or self._hosts[state.host].down:
                return ()
            return (state.host,)

    def preflight(self, request: MigrationRequest) -> MoveFacts:
        """Facts of the VM; checks: destination up, networks, CPU, migration network (:mod:`.checks`); capacity
        is the executor's (free memory given here)."""
        with self._lock:
            self._settle()
            vm = self._vm(request.vm)
            dest = self._host(request.dest)
            used = sum(v.spec.memory_mib for v in dest.vms.values())
            reachable = Check("destination reachable", not dest.down,
                              f"{request.dest} is down" if dest.down else f"{request.dest} answers")
            checks = (reachable, *fact_checks(vm.spec, self._host(vm.host).spec, dest.spec, request.network_map),
                      storage(vm.spec, dest.spec, {p.name: p.available_mib for p in _pools(dest)}))
            return MoveFacts(vm=request.vm, running=True, memory_mib=vm.spec.memory_mib,
                             dirty_rate_mib_s=vm.dirty_rate, policy=VmPolicy(live=vm.spec.live_migratable),
                             dest_free_mib=dest.spec.memory_mib - used, checks=checks)

    def set_max_downtime(self, vm: str, downtime_ms: int) -> None:
        """Accepted while a job runs (the model's downtime does not change)."""
        with self._lock:
            self._settle()
            if vm not in self._running:
                raise PermanentBackendError(f"no migration of {vm} is running")

    def start_postcopy(self, vm: str) -> None:
        """Switch a running job to post-copy: it completes after one more pass of its memory."""
        with self._lock:
            now = self._settle()
            job = self._running.get(vm)
            if job is None:
                raise PermanentBackendError(f"no migration of {vm} is running")
            self._running[vm] = self._last_job[vm] = postcopy(job, now)

    def start_disk_move(self, vm: str, host: str, disk: str, pool: str) -> None:
        raise PermanentBackendError("the simulated cluster does not move disks between pools")

    def storage_pools(self, host: str) -> tuple[PoolInfo, ...]:
        """The host's pools (a described cluster's; none otherwise), filled by the disks of the VMs on it now."""
        with self._lock:
            self._settle()
            return _pools(self._reachable_host(host))

    def upload_volume(self, host: str, pool: str, name: str, source: Path, fmt: str, capacity: int,
                      progress: Callable[[int], None] | None = None) -> str:
        raise PermanentBackendError(_NO_IMPORT)

    def delete_volume(self, host: str, pool: str, name: str) -> None:
        """Nothing was ever uploaded here."""

    def define_domain(self, host: str, xml: str) -> str:
        raise PermanentBackendError(_NO_IMPORT)

    def start_domain(self, vm: str, host: str) -> None:
        raise PermanentBackendError(_NO_IMPORT)

    def inspect(self, vm: str) -> tuple[Placement, ...]:
        """The VM's one running copy (the simulation never leaves duplicates or paused VMs)."""
        return tuple(Placement(host, DomainState.RUNNING, True, vm in self._running) for host in self.locate(vm))

    def resume(self, vm: str, host: str) -> None:
        """Nothing is ever paused in the simulation; only checks the VM is there."""
        if self.locate(vm) != (host,):
            raise PermanentBackendError(f"{vm} is not on {host}")

    def undefine(self, vm: str, host: str) -> None:
        raise PermanentBackendError(f"{vm} on {host}: the simulation has no inactive copies to remove")

    def close(self) -> None:
        """Nothing to release."""

    # --- failure injection and inspection for tests --------------------------------------------------

    def set_host_down(self, name: str, down: bool = True) -> None:
        """Take a host down (stats raise Transient, its migrations fail) or bring it back."""
        with self._lock:
            now = self._settle()
            self._host(name).down = down
            if not down:
                return
            for job in list(self._running.values()):
                if name in (job.source, job.dest):
                    self._end_job(job.end(now, JobState.FAILED, f"host {name} went down during the migration"))

    def hang(self, name: str) -> None:
        """From now on calls about ``name``'s inventory and counters block until :meth:`unhang` (a stopped
        libvirt daemon on an open connection)."""
        self._host(name)
        self._hung.setdefault(name, threading.Event())

    def unhang(self, name: str) -> None:
        gate = self._hung.pop(name, None)
        if gate is not None:
            gate.set()

    def _wait_if_hung(self, name: str) -> None:
        gate = self._hung.get(name)
        if gate is not None:
            gate.wait()

    def relocate(self, vm: str, dest: str) -> None:
        """Move ``vm`` to ``dest`` at once, as another tool or a person would (tests of external moves)."""
        with self._lock:
            self._host(dest)
            self._move(self._vm(vm), dest, self._clock.now())

    def fail_next_migration(self, vm: str, error: str = "injected failure", transient: bool = False) -> None:
        """The next migration of ``vm`` fails: transient ones at start (TransientBackendError), others as a
        FAILED job after half its duration with ``error``; the VM stays on its source."""
        with self._lock:
            self._vm(vm)
            self._injected[vm] = (error, transient)

    def set_cpu_pct(self, vm: str, pct: CpuPct) -> None:
        """Change a VM's CPU demand from now on (the time used so far is counted at the old demand)."""
        with self._lock:
            now = self._settle()
            state = self._vm(vm)
            state.integrate(now)
            state.cpu_pct = pct

    def set_dirty_rate(self, vm: str, mib_s: int) -> None:
        """Change how fast a VM dirties memory; applies to migrations started from now on."""
        with self._lock:
            self._vm(vm).dirty_rate = mib_s

    def placement(self) -> dict[str, str]:
        """VM name -> the host it runs on now."""
        with self._lock:
            self._settle()
            return {name: vm.host for name, vm in self._vms.items()}

    # --- internals ---------------------------------------------------------------------------------

    def _settle(self) -> float:
        """Finish every job whose end time has passed (moving completed VMs); the current time."""
        now = self._clock.now()
        for job in [j for j in self._running.values() if not j.running(now)]:
            self._finish(job)
        return now

    def _end_job(self, job: SimJob) -> None:
        """Record a job ended early and finish it at once."""
        self._last_job[job.vm] = job
        self._running[job.vm] = job
        self._finish(job)

    def _finish(self, job: SimJob) -> None:
        del self._running[job.vm]
        if job.outcome is JobState.COMPLETED:
            self._move(self._vms[job.vm], job.dest, job.ends_at)

    def _move(self, vm: VmState, dest: str, at: float) -> None:
        """Re-home a VM; the source keeps the CPU time it used there, so node counters stay monotone."""
        counter = vm.integrate(at)
        source = self._hosts[vm.host]
        source.base_ns += counter - vm.arrival_ns
        del source.vms[vm.spec.name]
        vm.arrival_ns = counter
        vm.host = dest
        self._hosts[dest].vms[vm.spec.name] = vm

    def _vm(self, name: str) -> VmState:
        state = self._vms.get(name)
        if state is None:
            raise PermanentBackendError(f"unknown VM {name!r}")
        return state

    def _host(self, name: str) -> HostState:
        state = self._hosts.get(name)
        if state is None:
            raise PermanentBackendError(f"unknown host {name!r}; known hosts: {', '.join(self._hosts)}")
        return state

    def _reachable_host(self, name: str) -> HostState:
        state = self._host(name)
        if state.down:
            raise TransientBackendError(f"host {name} does not answer")
        return state


def _info(state: HostState) -> HostInfo:
    spec = state.spec
    return HostInfo(spec.name, spec.cpus, spec.memory_mib, reachable=not state.down, networks=spec.networks,
                    cpu_group=spec.cpu_group, cpu_models=spec.cpu_models, migration_problem=spec.migration_problem,
                    extra=_named(spec.resources, spec.pools))


def _named(resources: Extra, pools: Extra) -> Extra:
    """Named resources as the planner counts them: storage pools under ``model.POOL_PREFIX``, sorted."""
    return tuple(sorted((*resources, *((POOL_PREFIX + name, mib) for name, mib in pools))))


def _pools(state: HostState) -> tuple[PoolInfo, ...]:
    """The pools of one host: their capacity, and what the disks of the VMs on it hold there."""
    used: dict[str, int] = {}
    for vm in state.vms.values():
        for pool, mib in vm.spec.disks:
            used[pool] = used.get(pool, 0) + mib
    return tuple(PoolInfo(state.spec.name, name, name, capacity, used.get(name, 0), capacity - used.get(name, 0))
                 for name, capacity in state.spec.pools)
