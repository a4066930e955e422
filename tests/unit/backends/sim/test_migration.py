"""Tests of balancerd.backends.sim.migration: the pre-copy migration model as a function of time."""

from __future__ import annotations

import pytest

from balancerd.backends.base import JobState
from balancerd.backends.sim.migration import (
    COLD_MOVE_S,
    MAX_PASSES,
    MIB,
    NOT_CONVERGED,
    SWITCHOVER_MS,
    downtime_ms,
    duration_s,
    new_job,
)
from balancerd.model import MoveKind


def test_duration_is_memory_over_effective_bandwidth() -> None:
    assert duration_s(MoveKind.LIVE, 8192, 1000, 0) == pytest.approx(8.192)
    assert duration_s(MoveKind.LIVE, 8192, 1000, 488) == pytest.approx(16.0)
    assert duration_s(MoveKind.LIVE, 100, 10, 10) == pytest.approx(MAX_PASSES * 10)
    assert duration_s(MoveKind.COLD, 8192, 1000, 999) == COLD_MOVE_S


def test_downtime_grows_with_the_dirty_rate_and_respects_the_limit() -> None:
    quiet = downtime_ms(MoveKind.LIVE, 8192, 1000, 0, 300)
    busy = downtime_ms(MoveKind.LIVE, 8192, 1000, 700, 300)
    assert quiet == SWITCHOVER_MS
    assert SWITCHOVER_MS < busy <= 300


def test_job_progress_and_completion() -> None:
    job = new_job("v", "a", "b", MoveKind.LIVE, 100.0, 1000, 100, 50, 300)
    assert job.ends_at == pytest.approx(120.0)
    half = job.stats(110.0)
    assert half.state is JobState.RUNNING
    assert (half.data_processed, half.data_remaining) == (1000 * MIB, 500 * MIB)
    done = job.stats(500.0)
    assert done.state is JobState.COMPLETED
    assert done.elapsed_ms == 20_000
    assert done.data_total == done.data_processed == 2000 * MIB
    assert done.downtime_ms is not None


def test_non_converging_job_is_scheduled_to_fail() -> None:
    job = new_job("v", "a", "b", MoveKind.LIVE, 0.0, 1000, 100, 200, 300)
    assert job.stats(10.0).data_remaining == 1000 * MIB
    failed = job.stats(MAX_PASSES * 10.0)
    assert (failed.state, failed.error, failed.downtime_ms) == (JobState.FAILED, NOT_CONVERGED, None)


def test_injected_error_ends_the_job_at_half_time() -> None:
    job = new_job("v", "a", "b", MoveKind.LIVE, 0.0, 1000, 100, 0, 300, injected_error="boom")
    assert job.stats(4.9).state is JobState.RUNNING
    assert (job.stats(5.0).state, job.stats(5.0).error) == (JobState.FAILED, "boom")


def test_ending_early_keeps_the_progress_made() -> None:
    job = new_job("v", "a", "b", MoveKind.LIVE, 0.0, 1000, 100, 0, 300).end(3.0, JobState.ABORTED, "stop")
    stats = job.stats(50.0)
    assert (stats.state, stats.elapsed_ms, stats.data_processed) == (JobState.ABORTED, 3000, 300 * MIB)
    assert stats.error == "stop"


def test_cold_move_copies_no_memory_and_is_all_downtime() -> None:
    job = new_job("v", "a", "b", MoveKind.COLD, 0.0, 4096, 100, 90, 300)
    stats = job.stats(COLD_MOVE_S)
    assert (stats.state, stats.data_total) == (JobState.COMPLETED, 0)
    assert stats.downtime_ms == COLD_MOVE_S * 1000
