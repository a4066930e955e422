"""service.limits.MoveLimits over a real journal: the cooldown counts external moves, the guard refuses a
balancing move of a VM at its cap or during a back-off, and lets drains through."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.journal import Journal
from balancerd.model import ExternalMove, Move, MoveKind, MoveResult, Outcome, Plan, Purpose
from balancerd.service.limits import MoveLimits
from tests import builders

NOW = 200_000.0
MOVE = Move("a", "h1", "h2", MoveKind.LIVE, "balance", 0.1, 1024)


@pytest.fixture()
def journal(tmp_path: Path) -> Iterator[Journal]:
    made = Journal(tmp_path / "journal.sqlite")
    yield made
    made.close()


def _moved(journal: Journal, vm: str, at: float) -> None:
    plan_id = journal.record_plan(Plan(0, at, (), 0.0, 0.0, "balance"), "enforce")
    move = dataclasses.replace(MOVE, vm=vm)
    record = journal.migration_started(plan_id, move, at - 5.0)
    journal.migration_ended(record, MoveResult(move, Outcome.SUCCEEDED, at - 5.0, at))


def test_the_guard_refuses_balancing_a_vm_at_its_cap_but_not_draining_it(journal: Journal) -> None:
    limits = MoveLimits(journal, builders.policy({"max_moves_per_vm_per_day": 2}))
    _moved(journal, "a", NOW - 90_000.0)  # older than a day: not counted
    _moved(journal, "a", NOW - 3_000.0)
    assert limits.refuses(MOVE, NOW) is None
    _moved(journal, "a", NOW - 2_000.0)
    assert limits.refuses(MOVE, NOW) == ("a moved 2 time(s) in the last 24 h, the cap "
                                         "(max_moves_per_vm_per_day = 2)")
    assert limits.refuses(dataclasses.replace(MOVE, purpose=Purpose.DRAIN), NOW) is None
    assert limits.for_plan(NOW).capped == (("a", 2),)


def test_the_plan_gets_every_vm_moved_in_the_last_day_only_under_a_cap(journal: Journal) -> None:
    _moved(journal, "a", NOW - 3_000.0)
    _moved(journal, "a", NOW - 2_000.0)
    _moved(journal, "b", NOW - 1_000.0)
    _moved(journal, "c", NOW - 90_000.0)  # older than a day
    capped = MoveLimits(journal, builders.policy({"max_moves_per_vm_per_day": 2})).for_plan(NOW)
    assert capped.recent == (("a", 2), ("b", 1)) and capped.capped == (("a", 2),)
    assert MoveLimits(journal, builders.policy({})).for_plan(NOW).recent == ()


def test_external_moves_give_the_cooldown_and_past_the_limit_a_back_off(journal: Journal) -> None:
    limits = MoveLimits(journal, builders.policy({"external_moves_backoff": 1, "external_backoff_s": 900}))
    journal.record_external((ExternalMove("x", "h1", "h2", NOW - 100.0),))
    assert limits.cooldown(NOW) == {"x"}
    assert limits.refuses(MOVE, NOW) is None and limits.for_plan(NOW).allowed == frozenset(Purpose)
    journal.record_external((ExternalMove("y", "h2", "h1", NOW - 50.0),))
    refused = limits.refuses(MOVE, NOW)
    assert refused is not None and refused.startswith("balancing backs off until 1970-01-03 07:47:30 UTC")
    assert limits.for_plan(NOW).allowed == frozenset(Purpose) - {Purpose.BALANCE}
    assert limits.refuses(dataclasses.replace(MOVE, purpose=Purpose.RESTORE), NOW) is None
    assert limits.refuses(MOVE, NOW + 901.0) is None


def test_a_vm_seen_on_another_host_is_external_only_without_a_balancerd_move(journal: Journal) -> None:
    limits = MoveLimits(journal, builders.policy())
    hosts = [builders.host(h, 8000, 8192) for h in ("h1", "h2")]
    first = builders.snapshot(hosts, [builders.vm("a", "h1", 1000, 1024), builders.vm("b", "h1", 1000, 1024)],
                              at=NOW - 60.0)
    assert limits.observe(first, ()) == ()
    _moved(journal, "b", NOW - 30.0)
    second = builders.snapshot(hosts, [builders.vm("a", "h2", 1000, 1024), builders.vm("b", "h2", 1000, 1024)],
                               at=NOW)
    assert limits.observe(second, ()) == (ExternalMove("a", "h1", "h2", NOW),)
    assert journal.external_moves(0.0) == (ExternalMove("a", "h1", "h2", NOW),)
