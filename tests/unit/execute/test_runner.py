"""Tests of the migration runner against the fake hypervisor and a FakeClock (no real sleeping)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from balancerd.backends.base import Check
from balancerd.clock import FakeClock
from balancerd.config import MigrationConfig, ThrottleConfig
from balancerd.errors import FencedError, PermanentBackendError, StateError, TransientBackendError
from balancerd.execute import ExecutionReport, Executor, Guard
from balancerd.execute.preflight import Settings
from balancerd.execute.runner import BUDGET_EXHAUSTED, STOPPING
from balancerd.execute.watch import ABORT_GRACE_S
from balancerd.journal import Journal
from balancerd.model import InFlight, Move, MoveResult, Outcome, Plan

from .fakes import FakeHypervisor, ListRecorder, VmBehaviour, move

T0 = 1_700_000_000.0


def plan_of(*moves: Move) -> Plan:
    return Plan(snapshot_seq=1, created_at=T0, moves=moves, score_before=1.0, score_after=0.5)


def no_guard(_: Move) -> str | None:
    return None


class Rig:
    """An executor over a fake backend and an in-memory recorder, recording every event."""

    def __init__(self, placement: dict[str, str], migration: MigrationConfig | None = None,
                 **throttle: Any) -> None:
        self.clock = FakeClock(T0)
        self.backend = FakeHypervisor(self.clock, dict(placement))
        self.recorder = ListRecorder(self.backend)
        self.events: list[tuple[str, str, MoveResult | None]] = []
        config = ThrottleConfig(**{"poll_interval_s": 0.5, "deadline_s": 600.0, **throttle})
        # deadline_min_s above every cap: the deadline is the throttle's, as these tests expect
        migration = migration or MigrationConfig(deadline_min_s=1e9)
        self.executor = Executor(self.backend, self.clock, Settings(config, migration), self.recorder, self.on_event)

    def on_event(self, kind: str, mv: Move, result: MoveResult | None) -> None:
        self.events.append((kind, mv.vm, result))

    def run(self, *moves: Move, guard: Guard = no_guard, stop: threading.Event | None = None) -> ExecutionReport:
        return self.executor.execute(plan_of(*moves), 7, guard, stop)

    def kinds(self, vm: str) -> list[str]:
        return [kind for kind, name, _ in self.events if name == vm]


def disjoint(count: int) -> tuple[dict[str, str], tuple[Move, ...]]:
    placement = {f"vm{i}": f"src{i}" for i in range(count)}
    return placement, tuple(move(f"vm{i}", f"src{i}", f"dst{i}") for i in range(count))


def test_sequential_with_one_cluster_slot() -> None:
    placement, moves = disjoint(3)
    rig = Rig(placement, cluster_max=1)
    report = rig.run(*moves)
    assert [r.outcome for r in report.results] == [Outcome.SUCCEEDED] * 3
    assert rig.backend.max_open == 1
    assert [r.vm for r in rig.backend.requests] == ["vm0", "vm1", "vm2"]
    assert rig.clock.now() - T0 == pytest.approx(30.0, abs=1.5)
    assert rig.backend.placement == {"vm0": "dst0", "vm1": "dst1", "vm2": "dst2"}


@pytest.mark.parametrize("cap", [2, 3, 4])
def test_concurrency_never_exceeds_cluster_cap(cap: int) -> None:
    placement, moves = disjoint(8)
    rig = Rig(placement, cluster_max=cap)
    report = rig.run(*moves)
    assert report.succeeded == 8
    assert rig.backend.max_open == cap


@pytest.mark.parametrize("slots", [1, 2, 4])
def test_per_host_out_slots_cap_moves_leaving_one_host(slots: int) -> None:
    placement = {f"vm{i}": "h1" for i in range(4)}
    moves = tuple(move(f"vm{i}", "h1", f"d{i}") for i in range(4))
    rig = Rig(placement, cluster_max=8, per_host_out=slots)
    report = rig.run(*moves)
    assert report.succeeded == 4
    assert rig.backend.max_open_out == slots  # leaving one host needs no ordering, only slots


def test_later_move_waits_for_an_earlier_move_off_its_destination() -> None:
    rig = Rig({"a": "h1", "b": "h3", "c": "h2"}, cluster_max=4)
    rig.backend.behaviour["a"] = VmBehaviour(duration_s=20)
    rig.backend.behaviour["b"] = VmBehaviour(duration_s=5)
    report = rig.run(move("a", "h1", "h2"), move("b", "h3", "h4"), move("c", "h2", "h3"))
    assert report.succeeded == 3
    starts = rig.backend.starts_at
    assert starts["a"] == starts["b"] == T0  # independent moves run together
    assert T0 + 5 <= starts["c"] < T0 + 20  # c needs the room b frees on h3, not a's move into h2


def test_second_move_of_a_parked_vm_waits_for_the_first() -> None:
    rig = Rig({"a": "h1"}, cluster_max=4, per_host_out=4)
    rig.backend.behaviour["a"] = VmBehaviour(duration_s=10)
    report = rig.run(move("a", "h1", "h9"), move("a", "h9", "h2"))
    assert report.succeeded == 2
    assert rig.backend.placement["a"] == "h2"
    assert rig.backend.max_open == 1


def test_independent_later_move_overtakes_a_blocked_one() -> None:
    rig = Rig({"a": "h1", "b": "h1", "c": "h5"}, cluster_max=4)
    rig.run(move("a", "h1", "h2"), move("b", "h1", "h3"), move("c", "h5", "h6"))
    assert rig.backend.starts_at["c"] == T0
    assert rig.backend.starts_at["b"] >= T0 + 10


def test_move_after_a_failed_neighbour_still_gets_its_guard_check() -> None:
    rig = Rig({"a": "h1", "b": "h2"})
    rig.backend.behaviour["a"] = VmBehaviour(fail=True)
    asked: list[str] = []

    def guard(mv: Move) -> str | None:
        asked.append(mv.vm)
        return "destination over capacity" if mv.vm == "b" else None

    report = rig.run(move("a", "h1", "h2"), move("b", "h2", "h3"), guard=guard)
    assert asked == ["a", "b"]
    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.SKIPPED]
    assert "disk full" in report.results[0].detail
    assert report.results[1].detail == "destination over capacity"


def test_guard_skip_is_journalled_and_never_reaches_the_backend() -> None:
    rig = Rig({"a": "h1"})
    report = rig.run(move("a", "h1", "h2"), guard=lambda mv: "source changed")
    assert report.skipped == 1 and report.failed == 0
    assert rig.backend.start_attempts["a"] == 0
    assert len(rig.recorder.started) == 1
    assert rig.recorder.ended[1].outcome is Outcome.SKIPPED
    assert rig.kinds("a") == ["skipped"]


def test_guard_that_raises_our_error_skips_the_move() -> None:
    rig = Rig({"a": "h1"})

    def guard(_: Move) -> str | None:
        raise PermanentBackendError("no such host")

    report = rig.run(move("a", "h1", "h2"), guard=guard)
    assert report.results[0].outcome is Outcome.SKIPPED
    assert "no such host" in report.results[0].detail


def test_transient_start_errors_are_retried_with_back_off() -> None:
    rig = Rig({"a": "h1"})
    rig.backend.behaviour["a"] = VmBehaviour(transient_start_failures=2)
    report = rig.run(move("a", "h1", "h2"))
    assert report.succeeded == 1
    assert rig.backend.start_attempts["a"] == 3
    assert rig.backend.starts_at["a"] == T0 + 1 + 2


def test_transient_start_errors_give_up_after_three_retries() -> None:
    rig = Rig({"a": "h1"})
    rig.backend.behaviour["a"] = VmBehaviour(transient_start_failures=10)
    report = rig.run(move("a", "h1", "h2"))
    result = report.results[0]
    assert result.outcome is Outcome.FAILED
    assert "after 3 retries" in result.detail and "connection reset" in result.detail
    assert rig.backend.start_attempts["a"] == 4
    assert rig.clock.now() == T0 + 7
    assert rig.recorder.ended[1] == result
    assert rig.executor.in_flight() == ()


def test_permanent_start_error_fails_at_once() -> None:
    rig = Rig({"a": "h1"})
    rig.backend.behaviour["a"] = VmBehaviour(permanent_start_error="incompatible CPU")
    report = rig.run(move("a", "h1", "h2"))
    assert report.results[0].outcome is Outcome.FAILED
    assert "incompatible CPU" in report.results[0].detail
    assert rig.backend.start_attempts["a"] == 1
    assert rig.kinds("a") == ["failed"]


def test_deadline_aborts_and_the_vm_stays_on_source() -> None:
    rig = Rig({"a": "h1"}, deadline_s=50.0)
    rig.backend.behaviour["a"] = VmBehaviour(duration_s=1000)
    report = rig.run(move("a", "h1", "h2"))
    result = report.results[0]
    assert result.outcome is Outcome.ABORTED
    assert "deadline" in result.detail
    assert rig.backend.abort_calls["a"] == 1
    assert rig.backend.placement["a"] == "h1"
    assert 50 <= result.duration_s <= 51.5


def test_abort_that_raises_is_reported_and_retried() -> None:
    rig = Rig({"a": "h1"}, deadline_s=50.0)
    rig.backend.behaviour["a"] = VmBehaviour(duration_s=1000, abort_failures=2)
    report = rig.run(move("a", "h1", "h2"))
    assert report.results[0].outcome is Outcome.ABORTED
    assert rig.kinds("a") == ["started", "abort_failed", "abort_failed", "aborted"]
    assert rig.backend.abort_calls["a"] == 3


def test_migration_that_ignores_the_abort_fails_after_the_grace() -> None:
    rig = Rig({"a": "h1"}, deadline_s=50.0)
    rig.backend.behaviour["a"] = VmBehaviour(hang=True)
    report = rig.run(move("a", "h1", "h2"))
    result = report.results[0]
    assert result.outcome is Outcome.FAILED
    assert "operator must check" in result.detail
    assert result.duration_s == pytest.approx(50 + ABORT_GRACE_S, abs=1.0)
    assert rig.executor.in_flight() == ()


def test_failed_job_is_a_failure_with_the_backend_reason() -> None:
    rig = Rig({"a": "h1"})
    rig.backend.behaviour["a"] = VmBehaviour(fail=True)
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.FAILED and "disk full" in result.detail
    assert rig.backend.placement["a"] == "h1"


def test_hourly_budget_skips_moves_and_refills_an_hour_later() -> None:
    placement, moves = disjoint(3)
    rig = Rig(placement, migrations_per_hour=2, cluster_max=4)
    report = rig.run(*moves)
    assert [r.outcome for r in report.results] == [Outcome.SUCCEEDED, Outcome.SUCCEEDED, Outcome.SKIPPED]
    assert report.results[2].detail == BUDGET_EXHAUSTED
    assert rig.backend.start_attempts["vm2"] == 0
    again = rig.run(moves[2])
    assert again.results[0].detail == BUDGET_EXHAUSTED  # the budget spans cycles
    rig.clock.advance(3600)
    assert rig.run(moves[2]).succeeded == 1


def test_stop_before_start_skips_everything() -> None:
    placement, moves = disjoint(2)
    rig = Rig(placement)
    stop = threading.Event()
    stop.set()
    report = rig.run(*moves, stop=stop)
    assert [r.detail for r in report.results] == [STOPPING, STOPPING]
    assert rig.backend.requests == []
    assert [plan_id for plan_id, _move, _at in rig.recorder.started] == [7, 7]  # journalled under their plan


def test_stop_lets_running_moves_finish_and_skips_the_rest() -> None:
    placement, moves = disjoint(3)
    rig = Rig(placement, cluster_max=1)
    stop = threading.Event()
    rig.executor._on_event = lambda kind, mv, result: stop.set() if kind == "started" else None
    report = rig.run(*moves, stop=stop)
    assert [r.outcome for r in report.results] == [Outcome.SUCCEEDED, Outcome.SKIPPED, Outcome.SKIPPED]
    assert report.results[1].detail == STOPPING
    assert all(record in rig.recorder.ended for record in range(1, 4))  # nothing half-recorded


def test_every_move_is_recorded_before_start_and_after_end() -> None:
    placement, moves = disjoint(4)
    rig = Rig(placement, cluster_max=2)
    report = rig.run(*moves)  # the recorder asserts the backend had not seen the start yet
    assert [mv.vm for _, mv, _ in rig.recorder.started] == ["vm0", "vm1", "vm2", "vm3"]
    assert all(plan_id == 7 for plan_id, _, _ in rig.recorder.started)
    assert sorted(rig.recorder.ended.values(), key=lambda r: r.move.vm) == list(report.results)


def test_result_carries_times_and_final_job_stats() -> None:
    rig = Rig({"a": "h1"}, MigrationConfig(downtime_schedule_ms=(150, 400), bandwidth_mib_s=250))
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.started_at == T0
    assert result.finished_at == pytest.approx(T0 + 10, abs=0.5)
    assert result.downtime_ms == 42 and result.bytes_transferred == 1_000_000
    request = rig.backend.requests[0]
    assert (request.bandwidth_mib_s, request.max_downtime_ms) == (250, 150)
    assert rig.kinds("a") == ["started", "succeeded"]


def test_in_flight_lists_running_moves() -> None:
    rig = Rig({"a": "h1", "b": "h3"}, cluster_max=2)
    seen: list[tuple[InFlight, ...]] = []
    rig.executor._on_event = lambda kind, mv, result: seen.append(rig.executor.in_flight())
    rig.run(move("a", "h1", "h2"), move("b", "h3", "h4"))
    assert InFlight("a", "h1", "h2") in seen[1] and InFlight("b", "h3", "h4") in seen[1]
    assert rig.executor.in_flight() == ()


class BrokenRecorder(ListRecorder):
    def migration_started(self, plan_id: int, move: Move, at: float) -> int:
        raise StateError("disk I/O error")


def test_move_is_not_started_when_the_journal_cannot_record_it() -> None:
    rig = Rig({"a": "h1"})
    rig.executor._recorder = BrokenRecorder()
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.FAILED and "journal" in result.detail
    assert rig.backend.start_attempts["a"] == 0


class FencedRecorder(ListRecorder):
    def migration_started(self, plan_id: int, move: Move, at: float) -> int:
        raise FencedError("not started: this head is follower of b (term 7)")


def test_a_fenced_start_is_skipped_not_failed_and_never_reaches_the_backend() -> None:
    rig = Rig({"a": "h1"})
    rig.executor._recorder = FencedRecorder()
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.SKIPPED and "follower of b" in result.detail
    assert rig.backend.start_attempts["a"] == 0


def test_empty_plan_returns_an_empty_report() -> None:
    rig = Rig({})
    assert rig.run() == ExecutionReport(())
    assert rig.clock.now() == T0


def test_with_the_real_journal_nothing_is_left_open(tmp_path: Path) -> None:
    placement, moves = disjoint(3)
    rig = Rig(placement, cluster_max=2, migrations_per_hour=2)
    journal = Journal(tmp_path / "journal.sqlite")
    rig.executor._recorder = journal
    plan = plan_of(*moves)
    report = rig.executor.execute(plan, journal.record_plan(plan, "enforce"), no_guard)
    assert journal.unfinished() == ()
    assert [(e.vm, e.outcome) for e in reversed(journal.migrations())] == [
        (r.move.vm, r.outcome) for r in report.results]
    journal.close()


def test_an_escaping_exception_leaves_the_executor_usable() -> None:
    rig = Rig({"a": "h1", "b": "h3"}, cluster_max=1)

    def explode(kind: str, mv: Move, result: MoveResult | None) -> None:
        raise ValueError("observer bug")

    rig.executor._on_event = explode
    with pytest.raises(ValueError, match="observer bug"):
        rig.run(move("a", "h1", "h2"))
    assert rig.executor.in_flight() == ()
    assert 1 not in rig.recorder.ended  # left open for reconciliation
    rig.executor._on_event = None
    assert rig.run(move("b", "h3", "h4")).succeeded == 1  # its slot was given back


# -- pre-flight and convergence (issue 6) ------------------------------------------------------------------


def test_failed_preflight_check_skips_the_move_and_records_the_checks() -> None:
    rig = Rig({"a": "h1", "b": "h3"}, cluster_max=2)
    rig.backend.behaviour["a"] = VmBehaviour(failed_checks=(Check("networks", False, "h2 lacks network x"),))
    report = rig.run(move("a", "h1", "h2"), move("b", "h3", "h4"))
    assert report.results[0].outcome is Outcome.SKIPPED and "networks: h2 lacks network x" in report.results[0].detail
    assert report.results[1].outcome is Outcome.SUCCEEDED
    assert rig.backend.start_attempts["a"] == 0
    recorded = {rig.recorder.started[i - 1][1].vm: checks for i, checks in rig.recorder.checks.items()}
    assert not next(c for c in recorded["a"] if c.name == "networks").ok
    assert {c.name for c in recorded["b"]} >= {"capacity", "kind", "downtime tolerance"}


def test_preflight_error_skips_instead_of_failing() -> None:
    rig = Rig({"a": "h1"})
    rig.backend.preflight_error = TransientBackendError("h2 does not answer")
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.SKIPPED and "pre-flight could not run: h2 does not answer" in result.detail


def test_stalled_passes_widen_the_downtime_then_switch_to_postcopy() -> None:
    migration = MigrationConfig(downtime_schedule_ms=(100, 300), stall_iterations=2, postcopy=True)
    rig = Rig({"a": "h1"}, migration)
    rig.backend.behaviour["a"] = VmBehaviour(hang=True, iterations_per_s=1.0, postcopy_completes_after_s=3.0)
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.SUCCEEDED
    assert rig.backend.downtime_calls == [("a", 300)]
    assert rig.backend.postcopy_calls == ["a"]
    assert rig.backend.requests[0].postcopy and rig.backend.requests[0].max_downtime_ms == 100
    assert rig.kinds("a").count("escalated") == 2


def test_deadline_comes_from_memory_bandwidth_and_dirty_rate() -> None:
    migration = MigrationConfig(deadline_factor=2.0, deadline_min_s=1.0, link_mib_s=1000, bandwidth_mib_s=64)
    rig = Rig({"a": "h1"}, migration)
    rig.backend.behaviour["a"] = VmBehaviour(duration_s=1000, dirty_rate_mib_s=32)
    result = rig.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.ABORTED
    expected = 2.0 * 1024 / (64 - 32) + 5.0  # fake VMs have 1024 MiB
    assert expected <= result.duration_s <= expected + 1.0
