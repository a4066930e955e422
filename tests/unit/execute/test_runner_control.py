"""The executor's controls, driven from its own event hook so each case is deterministic on a FakeClock:
pause (no start after it returns), abort of running moves, superseding an older plan's pending moves, and
two plans at once never moving one VM twice.
"""

from __future__ import annotations

from collections.abc import Callable

from balancerd.execute.runner import PAUSED, SUPERSEDED
from balancerd.model import Move, MoveResult, Outcome

from .fakes import move
from .test_runner import Rig, disjoint, no_guard, plan_of


def on_first_start(rig: Rig, action: Callable[[], object]) -> None:
    """Run ``action`` once, inside the executor's loop, right after the first move started."""
    done: list[bool] = []
    original = rig.executor._on_event

    def hook(kind: str, mv: Move, result: MoveResult | None) -> None:
        assert original is not None
        original(kind, mv, result)
        if kind == "started" and not done:
            done.append(True)
            action()

    rig.executor._on_event = hook


def test_pause_stops_every_later_start_and_running_moves_finish() -> None:
    placement, moves = disjoint(3)
    rig = Rig(placement, cluster_max=1)
    on_first_start(rig, rig.executor.pause)
    report = rig.run(*moves)
    assert [r.outcome for r in report.results] == [Outcome.SUCCEEDED, Outcome.SKIPPED, Outcome.SKIPPED]
    assert [r.detail for r in report.results[1:]] == [PAUSED, PAUSED]
    assert [r.vm for r in rig.backend.requests] == ["vm0"]
    assert len(rig.recorder.started) == 1  # dropped moves never began: nothing journalled for them
    rig.executor.resume()
    again = rig.run(*moves[1:])
    assert again.succeeded == 2


def test_a_move_past_its_checks_when_the_pause_comes_does_not_start() -> None:
    placement, moves = disjoint(2)
    rig = Rig(placement, cluster_max=2)

    def guard(mv: Move) -> str | None:
        if mv.vm == "vm1":
            rig.executor.pause()  # the operator's call lands between the checks and the start
        return None

    report = rig.run(*moves, guard=guard)
    assert report.results[1].outcome is Outcome.SKIPPED and report.results[1].detail == PAUSED
    assert [r.vm for r in rig.backend.requests] == ["vm0"] and rig.backend.placement["vm1"] == "src1"


def test_abort_running_leaves_each_vm_on_its_source() -> None:
    placement, moves = disjoint(2)
    rig = Rig(placement, cluster_max=2)
    aborted: list[tuple[Move, ...]] = []
    on_first_start(rig, lambda: aborted.append(rig.executor.abort_running("operator pause")))
    report = rig.run(*moves)
    assert [m.vm for m in aborted[0]] == ["vm0"]
    assert report.results[0].outcome is Outcome.ABORTED
    assert report.results[0].detail == "operator pause; aborted, VM stays on source"
    assert rig.backend.placement["vm0"] == "src0"


def test_superseding_drops_pending_moves_and_lets_running_ones_end() -> None:
    placement, moves = disjoint(3)
    rig = Rig(placement, cluster_max=1)
    on_first_start(rig, rig.executor.supersede)
    report = rig.run(*moves)
    assert [r.outcome for r in report.results] == [Outcome.SUCCEEDED, Outcome.SKIPPED, Outcome.SKIPPED]
    assert {r.detail for r in report.results[1:]} == {SUPERSEDED}
    assert rig.backend.placement == {"vm0": "dst0", "vm1": "src1", "vm2": "src2"}


def test_a_vm_is_never_in_two_plans_moves_at_once() -> None:
    rig = Rig({"a": "h1", "b": "h3"}, cluster_max=4, per_host_in=2, per_host_out=2)
    inner: list[object] = []
    newer = plan_of(move("a", "h1", "h4"), move("b", "h3", "h4"))
    on_first_start(rig, lambda: inner.append(rig.executor.execute(newer, 8, no_guard)))
    report = rig.run(move("a", "h1", "h2"))
    assert report.succeeded == 1 and rig.backend.placement["a"] == "h2"
    (second,) = inner
    results = second.results  # type: ignore[attr-defined]
    assert results[0].outcome is Outcome.SKIPPED and "already being moved by another plan" in results[0].detail
    assert results[1].outcome is Outcome.SUCCEEDED and rig.backend.placement["b"] == "h4"


def test_wait_ended_returns_once_the_moves_are_over() -> None:
    placement, moves = disjoint(1)
    rig = Rig(placement)
    assert rig.executor.wait_ended(frozenset({"vm0"}), 0.0)  # nothing running: at once
    seen: list[bool] = []
    on_first_start(rig, lambda: seen.append(rig.executor.wait_ended(frozenset({"vm0"}), 0.0)))
    rig.run(*moves)
    assert seen == [False]
