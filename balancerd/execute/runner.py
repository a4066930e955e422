"""The migration runner: carries out a plan's moves through the Hypervisor protocol.

The daemon calls :meth:`Executor.execute` once per cycle in mode ``enforce`` (and ``balancerd simulate``
once per replayed cycle); status and metrics read :meth:`Executor.in_flight` from other threads.

One single-threaded polling loop, no thread per migration: it starts moves in plan order as the
:class:`~balancerd.execute.throttle.Throttle` allows, polls ``job_stats`` every ``poll_interval_s`` of the
injected clock, and ends a move when its job reaches a final state or its deadline passes. Move *i* starts
only after every earlier move that shares a host with it has ended, so concurrent execution stays as safe
as the sequential plan the planner checked. Each move is journalled before it starts and after it ends.

Before a move starts, ``execute.preflight`` decides its kind (live, storage, cold), its convergence policy
and deadline, and runs the pre-flight checks; the checks go into the journal and a failed one skips the
move. While a job runs, ``execute.convergence.escalate`` widens its max downtime step by step as pre-copy
passes stall, then switches to post-copy where the VM allows it; at the deadline the job is aborted.

``on_event(kind, move, result)`` kinds: ``started`` (result None), ``succeeded``, ``failed``, ``aborted``,
``skipped`` (the final result), ``escalated`` (a provisional result whose detail says how the running job
was steered), ``abort_failed`` (a provisional FAILED result whose detail is the abort
error; the job is polled again) and ``journal_error`` (recording the end failed; detail says why).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from balancerd.backends.base import Check, Hypervisor, JobState, JobStats, MigrationRequest
from balancerd.clock import Clock
from balancerd.errors import BackendError, BalancerdError, StateError, TransientBackendError
from balancerd.execute import convergence, preflight
from balancerd.execute.convergence import Convergence, Escalation
from balancerd.execute.report import EventSink, ExecutionReport, Guard, Recorder
from balancerd.execute.throttle import Throttle
from balancerd.model import InFlight, Move, MoveResult, Outcome, Plan

START_RETRY_DELAYS_S = (1.0, 2.0, 4.0)
ABORT_GRACE_S = 30.0
BUDGET_EXHAUSTED = "hourly migration budget exhausted"
STOPPING = "daemon stopping"


@dataclass(slots=True)
class _Running:
    """Loop-private state of one started move."""

    move: Move
    record_id: int
    started_at: float
    deadline_s: float
    conv: Convergence | None = None
    escalation: Escalation = Escalation()
    abort_requested_at: float | None = None
    abort_sent: bool = False


@dataclass(frozen=True, slots=True)
class _End:
    """How a running move ended, before it becomes a MoveResult."""

    outcome: Outcome
    detail: str
    stats: JobStats | None = None


class Executor:
    """Runs plans, one at a time, under one throttle that lives as long as the executor."""

    def __init__(self, backend: Hypervisor, clock: Clock, settings: preflight.Settings, recorder: Recorder,
                 on_event: EventSink | None = None) -> None:
        self._backend = backend
        self._clock = clock
        self._settings = settings
        self._throttle = Throttle(settings.throttle, clock)
        self._recorder = recorder
        self._on_event = on_event
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}

    def in_flight(self) -> tuple[InFlight, ...]:
        """Moves currently running; safe to call from any thread."""
        with self._lock:
            runs = tuple(self._running.values())
        return tuple(InFlight(run.move.vm, run.move.source, run.move.dest) for run in runs)

    def execute(self, plan: Plan, plan_id: int, guard: Guard,
                stop: threading.Event | None = None) -> ExecutionReport:
        """Carry out ``plan``; return when every move has ended (succeeded, failed, aborted or skipped)."""
        stop = stop if stop is not None else threading.Event()
        results: dict[int, MoveResult] = {}
        pending = list(range(len(plan.moves)))
        order = _HostOrder(plan.moves)
        try:
            while pending or self._running:
                before = len(pending)
                pending = self._start_ready(plan, plan_id, order, pending, results, guard, stop)
                if self._running:
                    self._clock.sleep(self._settings.throttle.poll_interval_s)
                    self._poll_running(results)
                elif len(pending) == before and pending:
                    raise RuntimeError("executor made no progress with nothing running")  # a bug, not drift
        finally:
            self._forget_running()
        return ExecutionReport(tuple(results[index] for index in range(len(plan.moves))))

    def _forget_running(self) -> None:
        """After an unexpected exception: free the slots of moves no longer watched.

        Their journal rows stay open, so :func:`balancerd.journal.reconcile` settles them at the next start.
        """
        with self._lock:
            abandoned, self._running = tuple(self._running.values()), {}
        for run in abandoned:
            self._throttle.release(run.move.source, run.move.dest)

    # -- starting -------------------------------------------------------------------------------------

    def _start_ready(self, plan: Plan, plan_id: int, order: _HostOrder, pending: list[int],
                     results: dict[int, MoveResult], guard: Guard, stop: threading.Event) -> list[int]:
        """Start or skip every pending move that may go now; return those that must still wait."""
        waiting: list[int] = []
        for index in pending:
            move = plan.moves[index]
            if stop.is_set():
                results[index] = self._skip(plan_id, move, STOPPING)
            elif order.blocked(index, results) or not self._throttle.slots_free(move.source, move.dest):
                waiting.append(index)
            else:
                self._begin(plan_id, index, move, guard, results)
        return waiting

    def _begin(self, plan_id: int, index: int, move: Move, guard: Guard,
               results: dict[int, MoveResult]) -> None:
        reason = self._skip_reason(move, guard)
        if reason is not None:
            results[index] = self._skip(plan_id, move, reason)
            return
        decision = self._preflight(move)
        if isinstance(decision, str):
            results[index] = self._skip(plan_id, move, decision)
            return
        if decision.request is None:
            results[index] = self._skip(plan_id, move, decision.skip_reason or "pre-flight failed",
                                        decision.checks)
            return
        move = replace(move, kind=decision.request.kind)  # journal and report the kind actually used
        now = self._clock.now()
        try:
            record_id = self._recorder.migration_started(plan_id, move, now)
            self._recorder.record_checks(record_id, decision.checks)
        except StateError as exc:
            end = _End(Outcome.FAILED, f"not started: journal failed: {exc}")
            results[index] = self._result(move, end, now)
            self._emit("failed", move, results[index])
            return
        self._throttle.acquire(move.source, move.dest)
        run = _Running(move, record_id, now, decision.deadline_s, decision.convergence)
        error = self._start_with_retry(decision.request)
        if error is not None:
            self._finish(index, run, _End(Outcome.FAILED, error), results)
            return
        with self._lock:
            self._running[index] = run
        self._emit("started", move, None)

    def _skip_reason(self, move: Move, guard: Guard) -> str | None:
        if self._throttle.budget_left() == 0:
            return BUDGET_EXHAUSTED
        try:
            return guard(move)
        except BalancerdError as exc:
            return f"re-validation failed: {exc}"

    def _preflight(self, move: Move) -> preflight.Decision | str:
        """The pre-flight decision for ``move``, or why it could not be made (the move is then skipped)."""
        try:
            facts = self._backend.preflight(preflight.probe_request(move, self._settings))
        except BackendError as exc:
            return f"pre-flight could not run: {exc}"
        with self._lock:
            incoming = sum(run.move.memory_mib for run in self._running.values() if run.move.dest == move.dest)
        return preflight.decide(move, facts, self._settings, incoming, self._clock.now())

    def _start_with_retry(self, request: MigrationRequest) -> str | None:
        """Ask the backend to start ``request``; return why it did not start, or None once it did."""
        for delay in (*START_RETRY_DELAYS_S, None):
            try:
                self._backend.start_migration(request)
                return None
            except TransientBackendError as exc:
                if delay is None:
                    return f"start failed after {len(START_RETRY_DELAYS_S)} retries: {exc}"
                self._clock.sleep(delay)
            except BackendError as exc:
                return f"start refused: {exc}"
        raise AssertionError("unreachable")

    def _skip(self, plan_id: int, move: Move, reason: str, checks: tuple[Check, ...] = ()) -> MoveResult:
        now = self._clock.now()
        result = self._result(move, _End(Outcome.SKIPPED, reason), now)
        try:
            record_id = self._recorder.migration_started(plan_id, move, now)
            if checks:
                self._recorder.record_checks(record_id, checks)
            self._recorder.migration_ended(record_id, result)
        except StateError as exc:
            self._emit("journal_error", move, replace(result, detail=f"{reason}; journal failed: {exc}"))
        self._emit("skipped", move, result)
        return result

    # -- watching -------------------------------------------------------------------------------------

    def _poll_running(self, results: dict[int, MoveResult]) -> None:
        for index, run in sorted(self._running.items()):
            end = self._check(run)
            if end is not None:
                self._finish(index, run, end, results)

    def _check(self, run: _Running) -> _End | None:
        """How ``run`` ended, or None while it is still going (aborting it when its deadline passed)."""
        try:
            stats = self._backend.job_stats(run.move.vm)
        except TransientBackendError:
            return self._enforce_deadline(run)
        except BackendError as exc:
            return _End(Outcome.FAILED, f"lost the migration job: {exc}")
        if stats.state.final:
            aborting = run.abort_requested_at is not None
            return _final(stats, aborting=aborting, deadline=run.deadline_s)
        self._escalate(run, stats)
        return self._enforce_deadline(run)

    def _escalate(self, run: _Running, stats: JobStats) -> None:
        """Widen the max downtime or switch to post-copy when pre-copy passes stall (before the deadline)."""
        if run.conv is None or run.abort_requested_at is not None:
            return
        state, action = convergence.escalate(run.escalation, stats, run.conv)
        run.escalation = state
        try:
            if action is not None and action.downtime_ms is not None:
                self._backend.set_max_downtime(run.move.vm, action.downtime_ms)
                self._emit_note(run, f"max downtime widened to {action.downtime_ms} ms at pass {stats.iteration}")
            elif action is not None and action.postcopy:
                self._backend.start_postcopy(run.move.vm)
                self._emit_note(run, f"switched to post-copy at pass {stats.iteration}")
        except BackendError as exc:
            self._emit_note(run, f"escalation failed: {exc}")

    def _emit_note(self, run: _Running, detail: str) -> None:
        note = self._result(run.move, _End(Outcome.SUCCEEDED, detail), run.started_at)
        self._emit("escalated", run.move, note)

    def _enforce_deadline(self, run: _Running) -> _End | None:
        now = self._clock.now()
        if now - run.started_at < run.deadline_s:
            return None
        if run.abort_requested_at is None:
            run.abort_requested_at = now
        elif now - run.abort_requested_at >= ABORT_GRACE_S:
            return _End(Outcome.FAILED, f"deadline of {run.deadline_s:.0f} s passed and the migration "
                                        f"did not stop within {ABORT_GRACE_S:g} s of aborting it; "
                                        "operator must check where the VM runs")
        if not run.abort_sent:
            self._send_abort(run, now)
        return None

    def _send_abort(self, run: _Running, now: float) -> None:
        try:
            self._backend.abort(run.move.vm)
            run.abort_sent = True
        except BackendError as exc:
            provisional = self._result(run.move, _End(Outcome.FAILED, f"abort failed, will retry: {exc}"),
                                       run.started_at, now)
            self._emit("abort_failed", run.move, provisional)

    # -- ending ---------------------------------------------------------------------------------------

    def _finish(self, index: int, run: _Running, end: _End, results: dict[int, MoveResult]) -> None:
        result = self._result(run.move, end, run.started_at)
        with self._lock:
            self._running.pop(index, None)
        self._throttle.release(run.move.source, run.move.dest)
        try:
            self._recorder.migration_ended(run.record_id, result)
        except StateError as exc:
            failed = replace(result, detail=f"{end.detail}; journal failed: {exc}")
            self._emit("journal_error", run.move, failed)
        results[index] = result
        self._emit(end.outcome.value, run.move, result)

    def _result(self, move: Move, end: _End, started_at: float,
                finished_at: float | None = None) -> MoveResult:
        stats = end.stats
        return MoveResult(
            move=move, outcome=end.outcome, started_at=started_at,
            finished_at=self._clock.now() if finished_at is None else finished_at, detail=end.detail,
            downtime_ms=stats.downtime_ms if stats is not None else None,
            bytes_transferred=stats.data_processed if stats is not None else 0,
        )

    def _emit(self, kind: str, move: Move, result: MoveResult | None) -> None:
        if self._on_event is not None:
            self._on_event(kind, move, result)


class _HostOrder:
    """Which earlier moves each move must wait for: those that free room on its destination (their source is
    its destination) and earlier moves of the same VM (a parked VM). Moves that only add load to the same
    destination, or leave the same source, run together: the planner checked the destination with every
    earlier move applied, and a migrating VM still counts on its source until it ends.

    Each key's pointer only moves forward past ended moves, so checking is amortised O(1) per move.
    """

    def __init__(self, moves: tuple[Move, ...]) -> None:
        self._moves = moves
        self._by_key: dict[tuple[str, str], list[int]] = {}
        for index, move in enumerate(moves):
            self._by_key.setdefault(("source", move.source), []).append(index)
            self._by_key.setdefault(("vm", move.vm), []).append(index)
        self._first = dict.fromkeys(self._by_key, 0)

    def blocked(self, index: int, ended: dict[int, MoveResult]) -> bool:
        """True while an earlier move off ``index``'s destination, or of the same VM, is open."""
        move = self._moves[index]
        return any(self._first_open(key, ended) < index for key in (("source", move.dest), ("vm", move.vm)))

    def _first_open(self, key: tuple[str, str], ended: dict[int, MoveResult]) -> int:
        indices = self._by_key.get(key)
        if indices is None:
            return len(self._moves)
        position = self._first[key]
        while position < len(indices) and indices[position] in ended:
            position += 1
        self._first[key] = position
        return indices[position] if position < len(indices) else len(self._moves)


def _final(stats: JobStats, *, aborting: bool, deadline: float) -> _End:
    """The outcome a final job state means; a job that stopped after our abort counts as aborted."""
    if stats.state is JobState.COMPLETED:
        return _End(Outcome.SUCCEEDED, "", stats)
    if aborting:
        return _End(Outcome.ABORTED, f"deadline of {deadline:.0f} s passed; aborted, VM stays on source", stats)
    if stats.state is JobState.ABORTED:
        return _End(Outcome.ABORTED, f"aborted by someone else: {stats.error}".rstrip(": "), stats)
    return _End(Outcome.FAILED, f"migration failed: {stats.error or 'no reason given'}", stats)
