"""Tests for balancerd.roadef.portfolio: worker starts, a real second worker, late workers stopped."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest

from balancerd.optimize.engine.search import SearchParams, solve
from balancerd.roadef import portfolio
from balancerd.roadef.generate import GenSpec, generate
from balancerd.roadef.objective import is_feasible, objective
from balancerd.roadef.portfolio import Mailbox, _collect, solve_parallel, worker_params

T = TypeVar("T")


def test_workers_alternate_starts_and_keep_other_knobs() -> None:
    base = SearchParams(lns_seconds=0.3)
    assert [worker_params(k, base).start for k in range(4)] == ["anneal", "bigfirst", "anneal", "bigfirst"]
    assert worker_params(1, base).lns_seconds == 0.3


def test_two_workers_return_a_checked_answer_and_stop() -> None:
    inst, orig = generate(GenSpec(machines=12, processes=150, resources=3, services=30, seed=7))
    best, total = solve_parallel(inst, orig, time.monotonic() + 6.0, workers=2, seed=1)
    assert is_feasible(inst, orig, best)
    assert total == objective(inst, orig, best) < objective(inst, orig, orig)
    assert multiprocessing.active_children() == []


def test_short_runs_use_one_search(monkeypatch: pytest.MonkeyPatch) -> None:
    inst, orig = generate(GenSpec(machines=6, processes=30, services=10, seed=5))
    spawned: list[int] = []
    monkeypatch.setattr(portfolio, "_start", lambda *args: spawned.append(args[5]))  # k, the worker's index
    best, total = solve_parallel(inst, orig, time.monotonic() + 0.3, workers=2)
    assert spawned == []  # less than min_seconds left: no worker process is started
    assert is_feasible(inst, orig, best) and total <= objective(inst, orig, orig)
    assert multiprocessing.active_children() == []


def test_bigfirst_start_solves_alone() -> None:
    inst, orig = generate(GenSpec(machines=10, processes=100, resources=3, services=25, seed=8))
    best, total = solve(inst, orig, time.monotonic() + 1.0, time.monotonic,
                        params=worker_params(1, SearchParams(lns_seconds=0.05)))
    assert is_feasible(inst, orig, best)
    assert total == objective(inst, orig, best) < objective(inst, orig, orig)


def test_late_worker_is_killed_and_ignored() -> None:
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=time.sleep, args=(60,), daemon=True)
    proc.start()
    send.close()
    assert _collect(proc, recv, time.monotonic() + 0.2) is None
    assert not proc.is_alive() and proc.exitcode is not None


def test_worker_result_is_read_back() -> None:
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    send.send((np.array([1, 0]), 5))
    proc = ctx.Process(target=time.sleep, args=(0,), daemon=True)
    proc.start()
    found = _collect(proc, recv, time.monotonic() + 5.0)
    assert found is not None and found[0].tolist() == [1, 0] and found[1] == 5
    assert not proc.is_alive()


def _eventually(read: Callable[[], T | None], seconds: float = 5.0) -> T | None:
    """Poll ``read`` until it returns something (queues deliver through a feeder thread)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        got = read()
        if got is not None:
            return got
        time.sleep(0.01)
    return None


def test_mailbox_posts_its_best_and_takes_only_better_answers() -> None:
    ctx = multiprocessing.get_context("spawn")
    inbox0, inbox1 = ctx.Queue(), ctx.Queue()
    mine, theirs = Mailbox(inbox0, [inbox1]), Mailbox(inbox1, [inbox0])
    assert mine(np.array([0, 1]), 50) is None  # posts 50, has received nothing
    found = _eventually(lambda: theirs(np.array([1, 1]), 70))  # posts 70, receives 50
    assert found is not None and found[1] == 50 and found[0].tolist() == [0, 1]
    assert _eventually(lambda: None if inbox0.empty() else True)  # the 70 has reached mine
    assert mine(np.array([0, 1]), 50) is None  # ... and is not taken: it is worse
    assert inbox0.empty()
    assert mine(np.array([0, 0]), 40) is None and mine.sent == 40  # an improvement is posted again
    again = _eventually(theirs._drain)
    assert again is not None and again[1] == 40
    mine.close()
    theirs.close()
