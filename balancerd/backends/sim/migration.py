"""The migration model of the simulated backend: one job as a pure function of clock time.

``backends.sim.SimCluster`` creates a :class:`SimJob` when a migration starts and asks it, whenever someone
looks, whether it has ended and what ``job_stats`` should say; no thread runs. Live (and storage) moves use a
pre-copy model: memory M MiB goes over a link of B MiB/s while the guest dirties D MiB/s, so the job takes
M / (B - D) seconds (the sum of the shrinking copy passes) and the switch-over downtime is the last pass's
size / B. When D >= B it never converges: the remaining data stays at M until the job is aborted or it fails
after :data:`MAX_PASSES` passes' worth of time. A cold move shuts the guest down, redefines it on the
destination and boots it: a fixed time, all of it downtime, no memory copied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from balancerd.backends.base import JobState, JobStats
from balancerd.model import MoveKind

MIB = 1 << 20
MAX_PASSES = 30
SWITCHOVER_MS = 30
COLD_MOVE_S = 20.0
NOT_CONVERGED = "migration did not converge"


@dataclass(frozen=True, slots=True)
class SimJob:
    """One migration: its parameters, when it ends by itself and how; ``end`` replaces those on abort."""

    vm: str
    source: str
    dest: str
    kind: MoveKind
    started_at: float
    memory_mib: int
    bandwidth_mib_s: int
    dirty_rate_mib_s: int
    ends_at: float
    outcome: JobState
    error: str = ""
    downtime_ms: int | None = None

    @property
    def converges(self) -> bool:
        return self.kind is MoveKind.COLD or self.dirty_rate_mib_s < self.bandwidth_mib_s

    def running(self, now: float) -> bool:
        return now < self.ends_at

    def end(self, now: float, outcome: JobState, error: str) -> SimJob:
        """This job ended early at ``now`` (aborted, or failed because a host went down)."""
        return dataclasses.replace(self, ends_at=min(now, self.ends_at), outcome=outcome, error=error,
                                   downtime_ms=None)

    def stats(self, now: float) -> JobStats:
        """What ``job_stats`` reports at ``now``."""
        elapsed = max(0.0, min(now, self.ends_at) - self.started_at)
        processed, remaining = self._progress_mib(elapsed)
        state = JobState.RUNNING if self.running(now) else self.outcome
        return JobStats(
            vm=self.vm, state=state, elapsed_ms=round(elapsed * 1000),
            data_total=round((processed + remaining) * MIB), data_processed=round(processed * MIB),
            data_remaining=round(remaining * MIB), dirty_rate_mib_s=self.dirty_rate_mib_s,
            downtime_ms=self.downtime_ms if state is JobState.COMPLETED else None,
            error=self.error if state in (JobState.FAILED, JobState.ABORTED) else "",
            iteration=self._iteration(elapsed),
        )

    def _iteration(self, elapsed: float) -> int:
        """Pre-copy pass number: one pass per memory's worth of data sent (0 for cold moves)."""
        if self.kind is MoveKind.COLD or self.memory_mib <= 0:
            return 0
        return 1 + int(self.bandwidth_mib_s * elapsed / self.memory_mib)

    def _progress_mib(self, elapsed: float) -> tuple[float, float]:
        """MiB sent and MiB still to send after ``elapsed`` seconds."""
        if self.kind is MoveKind.COLD:
            return 0.0, 0.0
        sent = self.bandwidth_mib_s * elapsed
        if not self.converges:
            return sent, float(self.memory_mib)
        shrink = self.bandwidth_mib_s - self.dirty_rate_mib_s
        return sent, max(0.0, self.memory_mib - shrink * elapsed)


def duration_s(kind: MoveKind, memory_mib: int, bandwidth_mib_s: int, dirty_rate_mib_s: int) -> float:
    """How long a migration runs until it completes (or, when it cannot converge, until it gives up)."""
    if kind is MoveKind.COLD:
        return COLD_MOVE_S
    if dirty_rate_mib_s >= bandwidth_mib_s:
        return MAX_PASSES * memory_mib / bandwidth_mib_s
    return memory_mib / (bandwidth_mib_s - dirty_rate_mib_s)


def downtime_ms(kind: MoveKind, memory_mib: int, bandwidth_mib_s: int, dirty_rate_mib_s: int,
                max_downtime_ms: int) -> int:
    """The pause at switch-over: the first copy pass small enough for ``max_downtime_ms`` (cold: all of it)."""
    if kind is MoveKind.COLD:
        return round(COLD_MOVE_S * 1000)
    ratio = dirty_rate_mib_s / bandwidth_mib_s
    pass_mib = float(memory_mib)
    for _ in range(MAX_PASSES):
        pass_mib *= ratio
        if pass_mib * 1000 / bandwidth_mib_s <= max_downtime_ms:
            break
    return max(SWITCHOVER_MS, round(pass_mib * 1000 / bandwidth_mib_s))


def new_job(vm: str, source: str, dest: str, kind: MoveKind, now: float, memory_mib: int,
            bandwidth_mib_s: int, dirty_rate_mib_s: int, max_downtime_ms: int,
            injected_error: str | None = None) -> SimJob:
    """A job that starts at ``now``; with ``injected_error`` it fails after half its duration."""
    dirty = 0 if kind is MoveKind.COLD else dirty_rate_mib_s
    length = duration_s(kind, memory_mib, bandwidth_mib_s, dirty)
    job = SimJob(vm=vm, source=source, dest=dest, kind=kind, started_at=now, memory_mib=memory_mib,
                 bandwidth_mib_s=bandwidth_mib_s, dirty_rate_mib_s=dirty, ends_at=now + length,
                 outcome=JobState.COMPLETED,
                 downtime_ms=downtime_ms(kind, memory_mib, bandwidth_mib_s, dirty, max_downtime_ms))
    if injected_error is not None:
        return job.end(now + length / 2, JobState.FAILED, injected_error)
    if not job.converges:
        return job.end(job.ends_at, JobState.FAILED, NOT_CONVERGED)
    return job


def postcopy(job: SimJob, now: float) -> SimJob:
    """``job`` switched to post-copy at ``now``: it completes after one more pass of its memory."""
    return dataclasses.replace(job, ends_at=now + job.memory_mib / job.bandwidth_mib_s,
                               outcome=JobState.COMPLETED, error="", downtime_ms=SWITCHOVER_MS)
