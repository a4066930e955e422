"""The executor's results as the failure memory sees them: a real journal behind a real Executor.

Each way a move can end is produced by the runner itself (not built by hand), so that a change of the detail
texts the memory relies on (``pre-flight failed: ...``) fails here. The operator's abort is covered through the
daemon in ``tests/unit/service/test_control_release.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.backends.base import Check
from balancerd.errors import TransientBackendError
from balancerd.journal import Journal
from balancerd.model import Outcome

from .fakes import VmBehaviour, move
from .test_runner import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Rig, Journal]]:
    made = Rig({"a": "h1", "b": "h3"}, cluster_max=2)
    journal = Journal(tmp_path / "journal.sqlite", failure_backoff_s=100.0)
    made.executor._recorder = journal
    yield made, journal
    journal.close()


def test_a_preflight_refusal_is_remembered_but_not_a_preflight_that_could_not_run(
        rig: tuple[Rig, Journal]) -> None:
    made, journal = rig
    made.backend.behaviour["a"] = VmBehaviour(failed_checks=(Check("networks", False, "h2 lacks network x"),))
    result = made.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.SKIPPED
    made.backend.preflight_error = TransientBackendError("h4 does not answer")
    assert made.run(move("b", "h3", "h4")).results[0].outcome is Outcome.SKIPPED
    (record,) = journal.failures()
    assert (record.vm, record.dest, record.count) == ("a", "h2", 1)
    assert record.last_error.startswith("pre-flight failed") and record.retry_at == result.finished_at + 100.0


def test_a_failed_job_and_a_refused_start_are_remembered(rig: tuple[Rig, Journal]) -> None:
    made, journal = rig
    made.backend.behaviour["a"] = VmBehaviour(fail=True)
    made.backend.behaviour["b"] = VmBehaviour(permanent_start_error="no such network")
    report = made.run(move("a", "h1", "h2"), move("b", "h3", "h4"))
    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.FAILED]
    assert [(r.vm, r.dest, r.count) for r in journal.failures()] == [("a", "h2", 1), ("b", "h4", 1)]


def test_a_guard_skip_is_not_remembered_and_a_success_clears_the_pair(rig: tuple[Rig, Journal]) -> None:
    made, journal = rig
    journal.record_failure("a", "h2", 0.0, "earlier")
    assert made.run(move("b", "h3", "h4"), guard=lambda m: "destination h4 entered maintenance").skipped == 1
    assert made.run(move("a", "h1", "h2")).succeeded == 1
    assert journal.failures() == ()


def test_an_abort_at_the_deadline_is_remembered(rig: tuple[Rig, Journal]) -> None:
    made, journal = rig
    made.backend.behaviour["a"] = VmBehaviour(duration_s=10_000.0)  # far past the 600 s deadline
    result = made.run(move("a", "h1", "h2")).results[0]
    assert result.outcome is Outcome.ABORTED and result.detail.startswith("deadline")
    assert [(r.vm, r.dest) for r in journal.failures()] == [("a", "h2")]
