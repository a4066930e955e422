"""service.cycle and the failure memory: what the journal remembers reaches optimize.plan and the Proposal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd import optimize
from balancerd.model import FailureRecord, Outcome, Plan
from tests.unit.service.test_cycle import START, Cycle, _config


@pytest.fixture()
def cycles(tmp_path: Path) -> Iterator[Callable[..., Cycle]]:
    """Cycles over the simulated cluster of ``test_cycle`` (mode enforce), journals closed afterwards."""
    made: list[Cycle] = []

    def make(**policy: object) -> Cycle:
        made.append(Cycle(_config(tmp_path, "enforce", **policy)))
        return made[-1]

    yield make
    for cycle in made:
        cycle.journal.close()


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[FailureRecord, ...]]:
    """optimize.plan as the cycle calls it, recording the ``failures`` it is given."""
    seen: list[tuple[FailureRecord, ...]] = []
    real = optimize.plan

    def plan(*args: Any, **kwargs: Any) -> Plan:
        seen.append(kwargs.get("failures", ()))
        return real(*args, **kwargs)

    monkeypatch.setattr("balancerd.service.cycle.optimize.plan", plan)
    return seen


def test_the_journals_records_reach_the_plan_and_the_proposal(cycles: Callable[..., Cycle],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cycle = cycles()
    cycle.journal.record_failure("a", "h2", START, "migration failed: reset")
    seen = _spy(monkeypatch)
    proposal = cycle.runner.propose()
    expected = (FailureRecord("a", "h2", 1, START + 300.0, "migration failed: reset"),)
    assert seen == [expected]
    assert proposal.failures == expected


def test_a_failed_migration_is_remembered_for_the_next_plan(cycles: Callable[..., Cycle],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cycle = cycles(failure_backoff_s=60.0)
    first = cycle.runner.propose().plan.moves[0]
    cycle.backend.fail_next_migration(first.vm, "link down")
    report = cycle.run()
    failed = [r for r in report.results if r.outcome is Outcome.FAILED]
    assert [r.move.vm for r in failed] == [first.vm]
    records = cycle.journal.failures()
    assert [(r.vm, r.dest, r.count) for r in records] == [(first.vm, failed[0].move.dest, 1)]
    assert records[0].retry_at == failed[0].finished_at + 60.0 and "link down" in records[0].last_error
    seen = _spy(monkeypatch)
    assert cycle.runner.propose().failures == records
    assert seen == [records]


def test_a_reload_changes_the_back_off_of_later_failures(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles()
    changed = cycles(failure_backoff_s=5.0).config
    cycle.runner.reconfigure(changed)
    assert cycle.journal.record_failure("a", "h2", 10.0, "x").retry_at == 15.0
