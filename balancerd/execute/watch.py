"""Watching one running migration job: how it ended, steering it while pre-copy stalls, aborting it at its
deadline.

Called by :class:`balancerd.execute.runner.Executor` on every poll of a running move (:meth:`JobWatch.check`) and
when the operator or the daemon aborts the running moves (:meth:`JobWatch.send_abort`). Steering follows
:func:`balancerd.execute.convergence.escalate`; each step reaches ``on_event`` as an ``escalated`` provisional
result, a failed abort as ``abort_failed`` (the abort is sent again on the next poll).
"""

from __future__ import annotations

from balancerd.backends.base import Hypervisor, JobStats
from balancerd.clock import Clock
from balancerd.errors import BackendError, TransientBackendError
from balancerd.execute import convergence
from balancerd.execute.report import EventSink
from balancerd.execute.running import End, Running, final_end, result_of
from balancerd.model import Outcome

ABORT_GRACE_S = 30.0
"""How long a job may go on after its abort was sent before the move counts as failed (the operator checks)."""


class JobWatch:
    """Polls the backend for running moves; holds no state of its own (each move's is in its :class:`Running`)."""

    def __init__(self, backend: Hypervisor, clock: Clock, emit: EventSink) -> None:
        self._backend = backend
        self._clock = clock
        self._emit = emit

    def check(self, run: Running) -> End | None:
        """How ``run`` ended, or None while it is still going (aborting it when its deadline passed)."""
        try:
            stats = self._backend.job_stats(run.move.vm)
        except TransientBackendError:
            return self._enforce_deadline(run)
        except BackendError as exc:
            return End(Outcome.FAILED, f"lost the migration job: {exc}")
        if stats.state.final:
            return final_end(stats, run)
        self._escalate(run, stats)
        return self._enforce_deadline(run)

    def send_abort(self, run: Running, now: float) -> None:
        """Ask the backend to abort ``run`` (the VM stays on its source); a failure is reported and retried."""
        try:
            self._backend.abort(run.move.vm)
            run.abort_sent = True
        except BackendError as exc:
            provisional = result_of(run.move, End(Outcome.FAILED, f"abort failed, will retry: {exc}"),
                                    run.started_at, now)
            self._emit("abort_failed", run.move, provisional)

    def _escalate(self, run: Running, stats: JobStats) -> None:
        """Widen the max downtime or switch to post-copy when pre-copy passes stall (before the deadline)."""
        if run.conv is None or run.abort_requested_at is not None:
            return
        state, action = convergence.escalate(run.escalation, stats, run.conv)
        run.escalation = state
        try:
            if action is not None and action.downtime_ms is not None:
                self._backend.set_max_downtime(run.move.vm, action.downtime_ms)
                self._note(run, f"max downtime widened to {action.downtime_ms} ms at pass {stats.iteration}")
            elif action is not None and action.postcopy:
                self._backend.start_postcopy(run.move.vm)
                self._note(run, f"switched to post-copy at pass {stats.iteration}")
        except BackendError as exc:
            self._note(run, f"escalation failed: {exc}")

    def _note(self, run: Running, detail: str) -> None:
        note = result_of(run.move, End(Outcome.SUCCEEDED, detail), run.started_at, self._clock.now())
        self._emit("escalated", run.move, note)

    def _enforce_deadline(self, run: Running) -> End | None:
        now = self._clock.now()
        if now - run.started_at < run.deadline_s:
            return None
        if run.abort_requested_at is None:
            run.abort_requested_at = now
            run.abort_reason = f"deadline of {run.deadline_s:.0f} s passed"
        elif now - run.abort_requested_at >= ABORT_GRACE_S:
            return End(Outcome.FAILED, f"{run.abort_reason} and the migration did not stop within "
                                        f"{ABORT_GRACE_S:g} s of aborting it; operator must check where the VM runs")
        if not run.abort_sent:
            self.send_abort(run, now)
        return None
