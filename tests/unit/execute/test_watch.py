"""execute.watch: one running job polled: a final state becomes its end, a lost job a failure, a passed
deadline an abort (sent again after a failed try) and, past the grace, a failure the operator must check."""

from __future__ import annotations

from dataclasses import dataclass, field

from balancerd.backends.base import JobState, JobStats
from balancerd.clock import FakeClock
from balancerd.errors import PermanentBackendError, TransientBackendError
from balancerd.execute.running import Running
from balancerd.execute.watch import ABORT_GRACE_S, JobWatch
from balancerd.model import Move, MoveKind, MoveResult, Outcome

MOVE = Move("a", "h1", "h2", MoveKind.LIVE, "balance", 0.1, 1024)


@dataclass
class Jobs:
    """The part of the Hypervisor protocol a JobWatch calls: one job's state, aborts that fail first."""

    state: JobState = JobState.RUNNING
    error: Exception | None = None
    abort_failures: int = 0
    aborts: int = 0
    events: list[tuple[str, MoveResult | None]] = field(default_factory=list)

    def job_stats(self, vm: str) -> JobStats:
        if self.error is not None:
            raise self.error
        return JobStats(vm, self.state)

    def abort(self, vm: str) -> None:
        self.aborts += 1
        if self.aborts <= self.abort_failures:
            raise TransientBackendError("libvirtd busy")

    def emit(self, kind: str, move: Move, result: MoveResult | None) -> None:
        self.events.append((kind, result))


def _watch(jobs: Jobs, clock: FakeClock) -> JobWatch:
    return JobWatch(jobs, clock, jobs.emit)  # type: ignore[arg-type]


def test_a_final_state_ends_the_move_and_a_lost_job_fails_it() -> None:
    jobs, clock = Jobs(), FakeClock(100.0)
    run = Running(MOVE, 1, started_at=100.0, deadline_s=60.0)
    watch = _watch(jobs, clock)
    assert watch.check(run) is None
    jobs.state = JobState.COMPLETED
    end = watch.check(run)
    assert end is not None and end.outcome is Outcome.SUCCEEDED
    jobs.error = PermanentBackendError("domain vanished")
    end = watch.check(run)
    assert end is not None and end.outcome is Outcome.FAILED and "lost the migration job" in end.detail


def test_past_the_deadline_the_abort_is_sent_until_it_goes_through_then_the_grace_runs_out() -> None:
    jobs, clock = Jobs(abort_failures=1), FakeClock(100.0)
    run = Running(MOVE, 1, started_at=100.0, deadline_s=60.0)
    watch = _watch(jobs, clock)
    clock.advance(61.0)
    assert watch.check(run) is None and not run.abort_sent
    assert [kind for kind, _ in jobs.events] == ["abort_failed"]
    assert watch.check(run) is None and run.abort_sent and jobs.aborts == 2
    assert run.abort_reason == "deadline of 60 s passed"
    clock.advance(ABORT_GRACE_S)
    end = watch.check(run)
    assert end is not None and end.outcome is Outcome.FAILED and "operator must check" in end.detail


def test_a_job_that_stops_after_our_abort_counts_as_aborted() -> None:
    jobs, clock = Jobs(), FakeClock(100.0)
    run = Running(MOVE, 1, started_at=100.0, deadline_s=60.0)
    watch = _watch(jobs, clock)
    clock.advance(61.0)
    watch.check(run)
    jobs.state = JobState.ABORTED
    end = watch.check(run)
    assert end is not None and end.outcome is Outcome.ABORTED and "VM stays on source" in end.detail
