"""Tests of the execution report's counting helpers."""

from __future__ import annotations

from balancerd.execute import ExecutionReport
from balancerd.model import MoveResult, Outcome

from .fakes import move


def result(outcome: Outcome, transferred: int = 0) -> MoveResult:
    return MoveResult(move("a", "h1", "h2"), outcome, 0.0, 1.0, bytes_transferred=transferred)


def test_counts_by_outcome() -> None:
    report = ExecutionReport((result(Outcome.SUCCEEDED, 5), result(Outcome.SUCCEEDED, 7),
                              result(Outcome.SKIPPED), result(Outcome.ABORTED, 3)))
    assert (report.succeeded, report.failed, report.aborted, report.skipped) == (2, 0, 1, 1)
    assert report.counts() == {Outcome.SUCCEEDED: 2, Outcome.FAILED: 0, Outcome.ABORTED: 1, Outcome.SKIPPED: 1}
    assert report.bytes_transferred == 15


def test_empty_report() -> None:
    assert ExecutionReport().counts() == dict.fromkeys(Outcome, 0)
