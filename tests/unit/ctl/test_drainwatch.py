"""drainwatch: progress and ETA, and the verdicts drained / failed / stalled / refused / not running."""

from __future__ import annotations

from typing import Any

import pytest

from balancerd.clock import FakeClock
from balancerd.ctl import drainwatch
from balancerd.ctl.drainwatch import DrainWatch, Progress, WatchLimits


def _doc(vms: int, mem: int, cycle: int = 1, *, planned: int = 1, in_flight: int = 0, mode: str = "enforce",
         failures: tuple[dict[str, Any], ...] = (), blocked: tuple[dict[str, Any], ...] = (),
         reachable: bool = True) -> dict[str, Any]:
    drain = {"vms": vms, "mem_mib": mem, "planned": planned, "in_flight": in_flight, "reachable": reachable,
             "failures": list(failures), "blocked": list(blocked)}
    return {"mode": mode, "cycle": cycle, "drains": {"h": drain}}


def _fail(vm: str, at: float) -> dict[str, Any]:
    return {"vm": vm, "dest": "b", "outcome": "failed", "detail": "peer gone", "finished_at": at}


def _watch(clock: FakeClock, **limits: Any) -> DrainWatch:
    return DrainWatch("h", clock, WatchLimits(**limits))


def test_progress_and_eta_from_memory_drained_so_far() -> None:
    clock = FakeClock(0.0)
    watch = _watch(clock)
    progress, verdict = watch.observe(_doc(4, 8192), True)
    assert verdict is None and progress is not None
    assert (progress.total_vms, progress.total_mem_mib, progress.eta_s) == (4, 8192, None)
    clock.advance(10)
    progress, verdict = watch.observe(_doc(3, 6144), True)
    assert verdict is None and progress is not None
    assert progress.fraction == 0.25
    assert progress.eta_s == pytest.approx(30.0)  # 2 GiB in 10 s, 6 GiB left


def test_empty_host_is_drained() -> None:
    _, verdict = _watch(FakeClock()).observe(_doc(0, 0), True)
    assert verdict is not None and (verdict.result, verdict.exit_code) == ("drained", 0)


def test_daemon_gone_is_not_running() -> None:
    _, verdict = _watch(FakeClock()).observe(_doc(2, 10), False)
    assert verdict is not None and verdict.exit_code == drainwatch.EXIT_NOT_RUNNING


def test_recommend_mode_stalls_at_once() -> None:
    _, verdict = _watch(FakeClock()).observe(_doc(2, 10, mode="recommend"), True)
    assert verdict is not None and verdict.exit_code == drainwatch.EXIT_STALLED and "recommend" in verdict.reason


def test_only_new_failures_count() -> None:
    watch = _watch(FakeClock(), max_failures=2)
    old = _fail("v0", 1.0)
    assert watch.observe(_doc(3, 30, failures=(old,)), True)[1] is None
    assert watch.observe(_doc(3, 30, failures=(old, _fail("v1", 5.0))), True)[1] is None
    _, verdict = watch.observe(_doc(3, 30, failures=(old, _fail("v1", 5.0), _fail("v2", 6.0))), True)
    assert verdict is not None and verdict.exit_code == drainwatch.EXIT_FAILED
    assert verdict.reason == "2 migrations from h failed; last: v2 -> b failed: peer gone"


def test_nothing_planned_for_some_cycles_is_a_stall_with_the_reasons() -> None:
    watch = _watch(FakeClock(), stuck_cycles=2)
    blocked = ({"vm": "v1", "reasons": ["no host has room for 64 GiB"]},)
    assert watch.observe(_doc(1, 65536, 5, planned=0, blocked=blocked), True)[1] is None
    assert watch.observe(_doc(1, 65536, 5, planned=0, blocked=blocked), True)[1] is None, "same cycle twice"
    _, verdict = watch.observe(_doc(1, 65536, 6, planned=0, blocked=blocked), True)
    assert verdict is not None and verdict.exit_code == drainwatch.EXIT_STALLED
    assert verdict.reason == "nothing planned or running away from h for 2 cycles: v1: no host has room for 64 GiB"


def _refused(cycle: int, forced: bool = False) -> dict[str, Any]:
    doc = _doc(2, 8192, cycle, planned=0)
    doc["drains"]["h"]["proof"] = {"feasible": False, "forced": forced, "moves_left": 1, "estimated_s": 3.0,
                                   "blockers": [{"vm": "v1", "reason": "b lacks memory"}]}
    return doc


def test_a_refused_proof_of_a_later_cycle_is_refused_at_once() -> None:
    watch = _watch(FakeClock())
    assert watch.observe(_refused(4), True)[1] is None, "the first cycle seen may predate a --force"
    assert watch.observe(_refused(5, forced=True), True)[1] is None
    verdict = watch.observe(_refused(6), True)[1]
    assert verdict is not None and (verdict.result, verdict.exit_code) == ("refused", drainwatch.EXIT_STALLED)
    assert verdict.reason == ("the evacuation of h does not fit, so no VM leaves it: 1 VM(s) with nowhere to go: "
                              "v1: b lacks memory; 'balancerctl drain --force h' drains what fits")


def test_a_drain_entering_maintenance_after_the_first_status_is_refused_in_its_first_cycle() -> None:
    watch = _watch(FakeClock())
    assert watch.observe({"mode": "enforce", "cycle": 3, "drains": {}}, True)[1] is None
    verdict = watch.observe(_refused(4), True)[1]
    assert verdict is not None and verdict.result == "refused"


def test_progress_resets_the_stuck_count() -> None:
    watch = _watch(FakeClock(), stuck_cycles=2)
    assert watch.observe(_doc(3, 30, 1, planned=0), True)[1] is None
    assert watch.observe(_doc(2, 20, 2, planned=0), True)[1] is None, "a VM left: not stuck"
    _, verdict = watch.observe(_doc(2, 20, 3, planned=0, reachable=False), True)
    assert verdict is not None and verdict.reason.endswith("h is unreachable")


def test_no_progress_for_the_stall_timeout() -> None:
    clock = FakeClock(0.0)
    watch = _watch(clock, stall_timeout_s=60)
    assert watch.observe(None, True)[1] is None, "no status yet"
    clock.advance(30)
    assert watch.observe(_doc(2, 20, in_flight=1), True)[1] is None
    clock.advance(31)
    _, verdict = watch.observe(_doc(2, 20, in_flight=1), True)
    assert verdict is not None and verdict.reason == "no VM left h for 61 s"


def test_follow_reports_each_change_once_and_sleeps_on_the_clock() -> None:
    clock = FakeClock(0.0)
    docs = iter([_doc(2, 20), _doc(2, 20), _doc(1, 10), _doc(0, 0)])
    seen: list[Progress] = []
    verdict = drainwatch.follow(_watch(clock), lambda: (next(docs), True), clock, seen.append, 0.5)
    assert verdict.result == "drained"
    assert [p.vms for p in seen] == [2, 1, 0]
    assert clock.now() == 1.5


def test_bar_and_duration() -> None:
    progress = Progress("h", 5, 9728, 8, 15360, 2, 3, 20.0, 65.0)
    assert drainwatch.bar(progress, width=8) == "h [###-----]  37%  5 VMs left  9.5 GiB left  ETA 1m05s  2 in flight"
    assert drainwatch.bar(Progress("h", 1, 0, 1, 0, 0, 1, 0.0, None), 4) == \
        "h [----]   0%  1 VMs left  0.0 GiB left  ETA ?  0 in flight"
    assert [drainwatch.duration(s) for s in (0.4, 59, 61, 7800)] == ["0s", "59s", "1m01s", "2h10m"]
