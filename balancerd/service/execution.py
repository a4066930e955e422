"""Plans carried out beside the cycle: each in a thread of its own, through the daemon's one Executor.

The daemon (:mod:`balancerd.service.daemon`) submits the plan of every ``enforce`` cycle and every plan an
operator approves; the cycle goes on collecting and publishing while the moves run. The newest submitted plan
is the *current* one, the plan the control API shows with the state of each move; a newer plan supersedes the
pending moves of older ones (the executor drops them), their running moves go on to the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from balancerd.execute import Executor, Guard
from balancerd.model import Move, MoveResult, Plan

log = structlog.get_logger("balancerd.execution")

PENDING, RUNNING = "pending", "running"


@dataclass(slots=True)
class ActivePlan:
    """A submitted plan and what became of each of its moves (by VM) so far."""

    plan: Plan
    plan_id: int
    origin: str
    """``enforce`` (the cycle's own plan) or ``approved by ...``."""
    submitted_at: float
    states: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    finished: bool = False

    def state(self, move: Move) -> str:
        return self.states.get(move.vm, PENDING)

    def note(self, event: str, move: Move, result: MoveResult | None) -> None:
        """Track an executor event of one of this plan's moves."""
        if event == "started":
            self.states[move.vm] = RUNNING
        elif result is not None and event not in ("escalated", "abort_failed", "journal_error"):
            self.states[move.vm] = result.outcome.value
            self.details[move.vm] = result.detail


class ExecutionWorker:
    """Starts a thread per submitted plan; keeps the newest plan for the API; joins them all at shutdown."""

    def __init__(self, executor: Callable[[], Executor], stop: threading.Event) -> None:
        self._executor = executor
        self._stop = stop
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._plans: dict[int, ActivePlan] = {}
        self._current: ActivePlan | None = None

    def submit(self, plan: Plan, plan_id: int, origin: str, guard: Guard, now: float) -> ActivePlan:
        """Run ``plan`` in a new thread; older plans' pending moves are dropped, their running moves go on."""
        active = ActivePlan(plan, plan_id, origin, now)
        executor = self._executor()
        executor.supersede()
        thread = threading.Thread(target=self._run, args=(executor, active, guard), name=f"plan-{plan_id}",
                                  daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            self._plans[plan_id] = active
            self._current = active
        thread.start()
        return active

    def _run(self, executor: Executor, active: ActivePlan, guard: Guard) -> None:
        try:
            executor.execute(active.plan, active.plan_id, guard, self._stop)
        except Exception:
            log.exception("plan execution crashed", plan_id=active.plan_id)
        finally:
            with self._lock:
                active.finished = True
                self._plans.pop(active.plan_id, None)

    def note(self, event: str, move: Move, result: MoveResult | None) -> None:
        """Route an executor event to the running plan that holds the move."""
        with self._lock:
            holders = [p for p in self._plans.values() if _same(move, p.plan)]
        for active in holders[-1:]:
            active.note(event, move, result)

    def current(self) -> ActivePlan | None:
        with self._lock:
            return self._current

    def busy(self) -> bool:
        with self._lock:
            return any(t.is_alive() for t in self._threads)

    def join(self, timeout_s: float) -> bool:
        """Wait for every plan thread (at shutdown); whether they all ended."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)
        return not any(t.is_alive() for t in threads)


def _same(move: Move, plan: Plan) -> bool:
    """A move the executor re-kinded (live -> storage ...) is still the plan's move of that VM and hosts."""
    return any((m.vm, m.source, m.dest) == (move.vm, move.source, move.dest) for m in plan.moves)
