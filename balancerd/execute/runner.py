"""The migration runner: carries out a plan's moves through the Hypervisor protocol.

The daemon's execution worker calls :meth:`Executor.execute` in a thread of its own for each plan it runs
(``balancerd simulate`` calls it once per replayed cycle, in the cycle's thread); status, metrics and the
control API read :meth:`Executor.in_flight` and call :meth:`Executor.pause`, :meth:`Executor.abort_running`
and :meth:`Executor.supersede` from other threads.

Each ``execute`` call is one polling loop, no thread per migration: it starts moves in plan order as the
:class:`~balancerd.execute.throttle.Throttle` allows, polls ``job_stats`` every ``poll_interval_s`` of the
injected clock, and ends a move when its job reaches a final state or its deadline passes. Move *i* starts
only after every earlier move that shares a host with it has ended (:class:`~balancerd.execute.order.HostOrder`),
so concurrent execution stays as safe as the sequential plan the planner checked. Several plans may run at
once (an older plan's running moves go on while a newer plan starts): they share the one throttle, and a VM
is claimed by at most one plan's moves at a time. Each move is journalled before it starts and after it ends.

Stopping new starts: :meth:`Executor.pause` (the operator's kill switch) takes the start lock, so no move
starts after it returns; :meth:`Executor.supersede` drops the moves that older plans have not started
(the daemon re-plans them from a fresh snapshot). Neither journals the dropped moves: they never began.

Before a move starts, ``execute.preflight`` decides its kind (live, storage, cold), its convergence policy
and deadline, and runs the pre-flight checks; the checks go into the journal and a failed one skips the
move. While a job runs, :class:`~balancerd.execute.watch.JobWatch` polls it: ``execute.convergence.escalate``
widens its max downtime step by step as pre-copy passes stall, then switches to post-copy where the VM allows
it; at the deadline the job is aborted.

``on_event(kind, move, result)`` kinds: ``started`` (result None), ``succeeded``, ``failed``, ``aborted``,
``skipped`` (the final result), ``escalated`` (a provisional result whose detail says how the running job
was steered), ``abort_failed`` (a provisional FAILED result whose detail is the abort
error; the job is polled again) and ``journal_error`` (recording the end failed; detail says why).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from balancerd.backends.base import Check, Hypervisor, MigrationRequest
from balancerd.clock import Clock
from balancerd.errors import BackendError, BalancerdError, FencedError, StateError, TransientBackendError
from balancerd.execute import preflight
from balancerd.execute.order import HostOrder
from balancerd.execute.report import EventSink, ExecutionReport, Guard, Recorder
from balancerd.execute.running import End, Execution, Running, result_of
from balancerd.execute.throttle import Throttle
from balancerd.execute.watch import JobWatch
from balancerd.model import InFlight, Move, MoveResult, Outcome, Plan

START_RETRY_DELAYS_S = (1.0, 2.0, 4.0)
BUDGET_EXHAUSTED = "hourly migration budget exhausted"
STOPPING = "daemon stopping"
PAUSED = "paused"
SUPERSEDED = "superseded by a newer plan before it started"


class Executor:
    """Runs plans under one throttle that lives as long as the executor; several plans may run at once."""

    def __init__(self, backend: Hypervisor, clock: Clock, settings: preflight.Settings, recorder: Recorder,
                 on_event: EventSink | None = None) -> None:
        self._backend = backend
        self._clock = clock
        self._settings = settings
        self._throttle = Throttle(settings.throttle, clock)
        self._recorder = recorder
        self._on_event = on_event
        self._lock = threading.RLock()
        self._ended = threading.Condition(self._lock)
        self._start_lock = threading.Lock()
        self._running: dict[tuple[int, int], Running] = {}
        self._claimed: dict[str, int] = {}
        self._serial = 0
        self._epoch = 0
        self._paused = ""
        self._watch = JobWatch(backend, clock, self._emit)

    @property
    def settings(self) -> preflight.Settings:
        return self._settings

    def reconfigure(self, settings: preflight.Settings) -> None:
        """Take new limits and policy (a reload) without forgetting running moves, slots or the budget."""
        with self._lock:
            self._settings = settings
            self._throttle.reconfigure(settings.throttle)

    def in_flight(self) -> tuple[InFlight, ...]:
        """Moves currently running; safe to call from any thread."""
        with self._lock:
            runs = tuple(self._running.values())
        return tuple(InFlight(run.move.vm, run.move.source, run.move.dest) for run in runs)

    def pause(self, reason: str = PAUSED) -> None:
        """Start no move from now on (a start under way finishes first: this waits for it)."""
        with self._start_lock:
            self._paused = reason or PAUSED

    def resume(self) -> None:
        """Let moves start again (of plans executed from now on: paused moves were dropped)."""
        with self._start_lock:
            self._paused = ""

    @property
    def paused(self) -> bool:
        return bool(self._paused)

    def supersede(self) -> None:
        """Drop the moves that running plans have not started yet; their running moves go on."""
        with self._lock:
            self._epoch += 1

    def abort_running(self, reason: str) -> tuple[Move, ...]:
        """Abort every running move (each VM stays on its source); the moves asked to stop."""
        now = self._clock.now()
        with self._lock:
            runs = [run for run in self._running.values() if run.abort_requested_at is None]
            for run in runs:
                run.abort_requested_at, run.abort_reason = now, reason
        for run in runs:
            self._watch.send_abort(run, now)
        return tuple(run.move for run in runs)

    def wait_ended(self, vms: frozenset[str], timeout_s: float) -> bool:
        """Block (real time) until no move of ``vms`` runs, at most ``timeout_s``; whether they all ended."""
        with self._ended:
            return self._ended.wait_for(lambda: not vms & {r.move.vm for r in self._running.values()},
                                        timeout_s)

    def execute(self, plan: Plan, plan_id: int, guard: Guard,
                stop: threading.Event | None = None) -> ExecutionReport:
        """Carry out ``plan``; return when every move has ended (succeeded, failed, aborted or skipped)."""
        stop = stop if stop is not None else threading.Event()
        results: dict[int, MoveResult] = {}
        run = Execution(self._next_serial(), plan, plan_id, guard, stop, HostOrder(plan.moves), self._epoch)
        pending = list(range(len(plan.moves)))
        try:
            while pending or self._mine(run.serial):
                before = len(pending)
                pending = self._start_ready(run, pending, results)
                if self._mine(run.serial):
                    self._clock.sleep(self._settings.throttle.poll_interval_s)
                    self._poll_running(run.serial, results)
                elif len(pending) == before and pending:
                    self._clock.sleep(self._settings.throttle.poll_interval_s)  # slots held by another plan
        finally:
            self._forget_running(run.serial, plan)
        return ExecutionReport(tuple(results[index] for index in range(len(plan.moves))))

    def _next_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    def _mine(self, serial: int) -> bool:
        with self._lock:
            return any(key[0] == serial for key in self._running)

    def _forget_running(self, serial: int, plan: Plan) -> None:
        """After an unexpected exception: free the slots and claims of moves no longer watched.

        Their journal rows stay open, so :func:`balancerd.reconcile.reconcile` settles them at the next start.
        """
        with self._lock:
            abandoned = [key for key in self._running if key[0] == serial]
            for key in abandoned:
                self._throttle.release(self._running[key].move.source, self._running[key].move.dest)
                del self._running[key]
            for move in plan.moves:
                if self._claimed.get(move.vm) == serial:
                    del self._claimed[move.vm]
            self._ended.notify_all()

    # -- starting -------------------------------------------------------------------------------------

    def _start_ready(self, run: Execution, pending: list[int], results: dict[int, MoveResult]) -> list[int]:
        """Start or skip every pending move that may go now; return those that must still wait."""
        waiting: list[int] = []
        for index in pending:
            move = run.plan.moves[index]
            dropped = self._dropped(run)
            if dropped is not None:
                results[index] = self._drop(run.plan_id, move, dropped)
            elif run.order.blocked(index, results) or not self._begin(run, index, move, results):
                waiting.append(index)
        return waiting

    def _dropped(self, run: Execution) -> str | None:
        """Why ``run``'s pending moves are dropped now (stopping, paused, superseded), or None."""
        if run.stop.is_set():
            return STOPPING
        if self._paused:
            return self._paused
        return SUPERSEDED if run.epoch != self._epoch else None

    def _drop(self, plan_id: int, move: Move, reason: str) -> MoveResult:
        """A pending move that will not start: journalled as skipped only when the daemon stops."""
        if reason == STOPPING:
            return self._skip(plan_id, move, reason)
        result = self._result(move, End(Outcome.SKIPPED, reason), self._clock.now())
        self._emit("dropped", move, result)
        return result

    def _reserve(self, run: Execution, move: Move) -> str | None:
        """Take ``move``'s slots, budget and VM claim at once; "" = wait, a reason = skip, None = taken."""
        with self._lock:
            owner = self._claimed.get(move.vm)
            if owner is not None and owner != run.serial:
                return f"{move.vm} is already being moved by another plan"
            if not self._throttle.slots_free(move.source, move.dest):
                return ""
            if self._throttle.budget_left() == 0:
                return BUDGET_EXHAUSTED
            self._throttle.acquire(move.source, move.dest)
            self._claimed[move.vm] = run.serial
            return None

    def _unreserve(self, run: Execution, move: Move) -> None:
        with self._lock:
            self._throttle.refund(move.source, move.dest)
            if self._claimed.get(move.vm) == run.serial:
                del self._claimed[move.vm]

    def _begin(self, run: Execution, index: int, move: Move, results: dict[int, MoveResult]) -> bool:
        """Start (or skip) ``move``; False when it must wait for slots."""
        reserved = self._reserve(run, move)
        if reserved == "":
            return False
        if reserved is not None:
            results[index] = self._skip(run.plan_id, move, reserved)
            return True
        started = self._prepare(run, index, move, results)
        if started is None:
            self._unreserve(run, move)
            return True
        self._launch(run, index, started, results)
        return True

    def _prepare(self, run: Execution, index: int, move: Move,
                 results: dict[int, MoveResult]) -> tuple[Running, MigrationRequest] | None:
        """Guard, pre-flight and journal ``move``; the run and request to start, or None (skipped)."""
        reason = self._skip_reason(move, run.guard)
        if reason is not None:
            results[index] = self._skip(run.plan_id, move, reason)
            return None
        decision = self._preflight(move)
        if isinstance(decision, str):
            results[index] = self._skip(run.plan_id, move, decision)
            return None
        if decision.request is None:
            results[index] = self._skip(run.plan_id, move, decision.skip_reason or "pre-flight failed",
                                        decision.checks)
            return None
        move = replace(move, kind=decision.request.kind)  # journal and report the kind actually used
        now = self._clock.now()
        try:
            record_id = self._recorder.migration_started(run.plan_id, move, now)
            self._recorder.record_checks(record_id, decision.checks)
        except FencedError as exc:  # [ha]: this head does not lead the plan's term any more; start nothing
            results[index] = self._result(move, End(Outcome.SKIPPED, str(exc)), now)
            self._emit("skipped", move, results[index])
            return None
        except StateError as exc:
            results[index] = self._result(move, End(Outcome.FAILED, f"not started: journal failed: {exc}"), now)
            self._emit("failed", move, results[index])
            return None
        return Running(move, record_id, now, decision.deadline_s, decision.convergence), decision.request

    def _launch(self, run: Execution, index: int, started: tuple[Running, MigrationRequest],
                results: dict[int, MoveResult]) -> None:
        state, request = started
        refused = self._start_with_retry(request, (run.serial, index), state)
        if refused is not None:
            self._finish((run.serial, index), state, refused, results)
            return
        self._emit("started", state.move, None)

    def _skip_reason(self, move: Move, guard: Guard) -> str | None:
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

    def _start_with_retry(self, request: MigrationRequest, key: tuple[int, int], run: Running) -> End | None:
        """Start ``request`` unless paused, registering it as running; how it ended unstarted, or None."""
        for delay in (*START_RETRY_DELAYS_S, None):
            with self._start_lock:
                if self._paused:
                    return End(Outcome.SKIPPED, self._paused)
                error = self._try_start(request)
                if error is None:
                    with self._lock:
                        self._running[key] = run
                    return None
            if not isinstance(error, TransientBackendError):
                return End(Outcome.FAILED, f"start refused: {error}")
            if delay is None:
                return End(Outcome.FAILED, f"start failed after {len(START_RETRY_DELAYS_S)} retries: {error}")
            self._clock.sleep(delay)
        raise AssertionError("unreachable")

    def _try_start(self, request: MigrationRequest) -> BackendError | None:
        try:
            self._backend.start_migration(request)
        except BackendError as exc:
            return exc
        return None

    def _skip(self, plan_id: int, move: Move, reason: str, checks: tuple[Check, ...] = ()) -> MoveResult:
        now = self._clock.now()
        result = self._result(move, End(Outcome.SKIPPED, reason), now)
        try:
            self._recorder.record_skip(plan_id, move, result, checks)
        except StateError as exc:
            self._emit("journal_error", move, replace(result, detail=f"{reason}; journal failed: {exc}"))
        self._emit("skipped", move, result)
        return result

    # -- watching -------------------------------------------------------------------------------------

    def _poll_running(self, serial: int, results: dict[int, MoveResult]) -> None:
        with self._lock:
            mine = sorted((key, run) for key, run in self._running.items() if key[0] == serial)
        for key, run in mine:
            end = self._watch.check(run)
            if end is not None:
                self._finish(key, run, end, results)

    # -- ending ---------------------------------------------------------------------------------------

    def _finish(self, key: tuple[int, int], run: Running, end: End, results: dict[int, MoveResult]) -> None:
        result = self._result(run.move, end, run.started_at)
        with self._lock:
            self._running.pop(key, None)
            self._throttle.release(run.move.source, run.move.dest)
            if self._claimed.get(run.move.vm) == key[0]:
                del self._claimed[run.move.vm]
            self._ended.notify_all()
        try:
            self._recorder.migration_ended(run.record_id, result)
        except StateError as exc:
            failed = replace(result, detail=f"{end.detail}; journal failed: {exc}")
            self._emit("journal_error", run.move, failed)
        results[key[1]] = result
        self._emit(end.outcome.value, run.move, result)

    def _result(self, move: Move, end: End, started_at: float, finished_at: float | None = None) -> MoveResult:
        return result_of(move, end, started_at, self._clock.now() if finished_at is None else finished_at)

    def _emit(self, kind: str, move: Move, result: MoveResult | None) -> None:
        if self._on_event is not None:
            self._on_event(kind, move, result)
