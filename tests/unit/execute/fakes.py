"""A small fake Hypervisor and Recorder for the executor's unit tests, driven by a FakeClock.

Migrations complete ``duration_s`` seconds of fake time after they start; per VM a test can make them
fail, hang (stay RUNNING, even after an abort), refuse to start, fail to start transiently a few times, or
make ``abort`` raise a few times. The fake counts how many jobs the executor has open at once (started
and not yet seen final), overall and per host, so tests can assert the throttle's limits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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
from balancerd.clock import FakeClock
from balancerd.errors import PermanentBackendError, TransientBackendError
from balancerd.model import Move, MoveKind, MoveResult


def move(vm: str, source: str, dest: str) -> Move:
    return Move(vm=vm, source=source, dest=dest, kind=MoveKind.LIVE, reason="test", gain=1.0, memory_mib=1024)


@dataclass
class VmBehaviour:
    """How the fake treats migrations of one VM."""

    duration_s: float = 10.0
    fail: bool = False
    hang: bool = False
    transient_start_failures: int = 0
    permanent_start_error: str = ""
    abort_failures: int = 0
    policy: VmPolicy = field(default_factory=VmPolicy)
    dirty_rate_mib_s: int = 0
    running: bool = True
    local_disks: tuple[str, ...] = ()
    failed_checks: tuple[Check, ...] = ()
    iterations_per_s: float = 0.0
    postcopy_completes_after_s: float | None = None


@dataclass
class _Job:
    request: MigrationRequest
    started_at: float
    aborted: bool = False
    reported_final: bool = False
    postcopy_at: float | None = None


@dataclass
class FakeHypervisor:
    """Implements the Hypervisor protocol over a dict of VM -> host."""

    clock: FakeClock
    placement: dict[str, str] = field(default_factory=dict)
    behaviour: dict[str, VmBehaviour] = field(default_factory=dict)
    requests: list[MigrationRequest] = field(default_factory=list)
    start_attempts: Counter[str] = field(default_factory=Counter)
    abort_calls: Counter[str] = field(default_factory=Counter)
    starts_at: dict[str, float] = field(default_factory=dict)
    max_open: int = 0
    max_open_out: int = 0
    max_open_in: int = 0
    dest_free_mib: int = 1_000_000
    downtime_calls: list[tuple[str, int]] = field(default_factory=list)
    postcopy_calls: list[str] = field(default_factory=list)
    preflight_error: BaseException | None = None
    _jobs: dict[str, _Job] = field(default_factory=dict)

    def _of(self, vm: str) -> VmBehaviour:
        return self.behaviour.setdefault(vm, VmBehaviour())

    def hosts(self) -> tuple[HostInfo, ...]:
        return tuple(HostInfo(name, 8, 16384) for name in sorted(set(self.placement.values())))

    def host_names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts())

    def host_info(self, host: str) -> HostInfo:
        return HostInfo(host, 8, 16384)

    def reset_host(self, host: str, reason: str) -> None:
        pass

    def node_stats(self, host: str) -> NodeStats:
        return NodeStats(host, self.clock.now(), 0, 16384, 8192)

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        return ()

    def start_migration(self, request: MigrationRequest) -> None:
        behaviour = self._of(request.vm)
        self.start_attempts[request.vm] += 1
        if behaviour.permanent_start_error:
            raise PermanentBackendError(behaviour.permanent_start_error)
        if behaviour.transient_start_failures > 0:
            behaviour.transient_start_failures -= 1
            raise TransientBackendError("connection reset")
        if self.placement.get(request.vm) != request.source:
            raise PermanentBackendError(f"domain {request.vm} not on {request.source}")
        self.requests.append(request)
        self.starts_at[request.vm] = self.clock.now()
        self._jobs[request.vm] = _Job(request, self.clock.now())
        self._count_open()

    def job_stats(self, vm: str) -> JobStats:
        job = self._jobs.get(vm)
        if job is None:
            return JobStats(vm, JobState.NONE)
        state = self._state(job)
        if state.final and not job.reported_final:
            job.reported_final = True
            if state is JobState.COMPLETED:
                self.placement[vm] = job.request.dest
        done = state is JobState.COMPLETED
        iteration = int(self._of(vm).iterations_per_s * (self.clock.now() - job.started_at))
        return JobStats(vm, state, data_processed=1_000_000 if done else 0, downtime_ms=42 if done else None,
                        error="disk full" if state is JobState.FAILED else "", iteration=iteration)

    def abort(self, vm: str) -> None:
        behaviour = self._of(vm)
        self.abort_calls[vm] += 1
        if behaviour.abort_failures > 0:
            behaviour.abort_failures -= 1
            raise TransientBackendError("abort timed out")
        self._jobs[vm].aborted = True

    def locate(self, vm: str) -> tuple[str, ...]:
        return (self.placement[vm],) if vm in self.placement else ()

    def preflight(self, request: MigrationRequest) -> MoveFacts:
        if self.preflight_error is not None:
            raise self.preflight_error
        b = self._of(request.vm)
        checks = (Check("destination reachable", True, "fake"), *b.failed_checks)
        return MoveFacts(request.vm, b.running, 1024, b.dirty_rate_mib_s, b.policy, b.local_disks,
                         dest_free_mib=self.dest_free_mib, checks=checks)

    def set_max_downtime(self, vm: str, downtime_ms: int) -> None:
        self.downtime_calls.append((vm, downtime_ms))

    def start_postcopy(self, vm: str) -> None:
        self.postcopy_calls.append(vm)
        self._jobs[vm].postcopy_at = self.clock.now()

    def start_disk_move(self, vm: str, host: str, disk: str, pool: str) -> None:
        raise PermanentBackendError("no pools")

    def storage_pools(self, host: str) -> tuple[PoolInfo, ...]:
        return ()

    def inspect(self, vm: str) -> tuple[Placement, ...]:
        return tuple(Placement(h, DomainState.RUNNING) for h in self.locate(vm))

    def resume(self, vm: str, host: str) -> None:
        pass

    def undefine(self, vm: str, host: str) -> None:
        pass

    def close(self) -> None:
        pass

    def _state(self, job: _Job) -> JobState:
        behaviour = self._of(job.request.vm)
        after = behaviour.postcopy_completes_after_s
        if job.postcopy_at is not None and after is not None and self.clock.now() - job.postcopy_at >= after:
            return JobState.COMPLETED
        if behaviour.hang:
            return JobState.RUNNING
        if job.aborted:
            return JobState.ABORTED
        if self.clock.now() - job.started_at < behaviour.duration_s:
            return JobState.RUNNING
        return JobState.FAILED if behaviour.fail else JobState.COMPLETED

    def _count_open(self) -> None:
        open_jobs = [job.request for job in self._jobs.values() if not job.reported_final]
        self.max_open = max(self.max_open, len(open_jobs))
        self.max_open_out = max(self.max_open_out, *Counter(r.source for r in open_jobs).values())
        self.max_open_in = max(self.max_open_in, *Counter(r.dest for r in open_jobs).values())


@dataclass
class ListRecorder:
    """A Recorder that keeps rows in memory and checks that starts are recorded before the backend sees them."""

    backend: FakeHypervisor | None = None
    started: list[tuple[int, Move, float]] = field(default_factory=list)
    ended: dict[int, MoveResult] = field(default_factory=dict)
    checks: dict[int, tuple[Check, ...]] = field(default_factory=dict)

    def record_checks(self, record_id: int, checks: tuple[Check, ...]) -> None:
        self.checks[record_id] = checks

    def migration_started(self, plan_id: int, move: Move, at: float) -> int:
        if self.backend is not None:
            seen = sum(1 for request in self.backend.requests if request.vm == move.vm)
            recorded = sum(1 for _, earlier, _ in self.started if earlier.vm == move.vm)
            assert seen <= recorded, f"backend saw {move.vm} start before the journal recorded it"
        self.started.append((plan_id, move, at))
        return len(self.started)

    def migration_ended(self, record_id: int, result: MoveResult) -> None:
        assert record_id not in self.ended, "ended twice"
        self.ended[record_id] = result

    def record_skip(self, plan_id: int, move: Move, result: MoveResult, checks: tuple[Check, ...] = ()) -> None:
        self.started.append((plan_id, move, result.started_at))
        record_id = len(self.started)
        if checks:
            self.checks[record_id] = checks
        self.ended[record_id] = result
