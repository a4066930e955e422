"""Unit tests of balancerd.backends.libvirt.parse: literal libvirt dicts into DomainStats / JobStats."""

from __future__ import annotations

import pytest

from balancerd.backends.base import JobState
from balancerd.backends.libvirt import parse as parse

FULL = {
    "state.state": 1, "state.reason": 1, "cpu.time": 5_000_000_000, "vcpu.current": 2, "vcpu.maximum": 2,
    "balloon.current": 98304, "balloon.maximum": 98304, "balloon.available": 49152, "balloon.unused": 20480,
    "balloon.rss": 176128,
}


def facts(**kw: object) -> parse.DomainFacts:
    base: dict[str, object] = {"name": "vm1", "host": "h1", "at": 10.0}
    base.update(kw)
    return parse.DomainFacts(**base)  # type: ignore[arg-type]


def test_full_record_uses_balloon_available_minus_unused() -> None:
    row = parse.domain_stats(FULL, facts())
    assert (row.running, row.vcpus, row.memory_mib, row.cpu_time_ns) == (True, 2, 96, 5_000_000_000)
    assert row.memory_used_mib == (49152 - 20480) // 1024


def test_memory_used_falls_back_to_rss_then_current() -> None:
    no_guest = {k: v for k, v in FULL.items() if k not in ("balloon.available", "balloon.unused")}
    assert parse.memory_used_mib(no_guest, 0) == 176128 // 1024
    only_current = {"balloon.current": 65536}
    assert parse.memory_used_mib(only_current, 0) == 64
    assert parse.memory_used_mib({}, 2 * 1024 * 1024) == 2048


def test_state_only_record_takes_figures_from_info() -> None:
    record = {"state.state": 5, "state.reason": 0}
    assert parse.needs_info(record)
    assert not parse.needs_info(FULL)
    row = parse.domain_stats(record, facts(info=(5, 1048576, 524288, 4, 77), persistent=False))
    assert (row.running, row.vcpus, row.memory_mib, row.cpu_time_ns, row.memory_used_mib) == (
        False, 4, 1024, 77, 512)
    assert row.persistent is False


@pytest.mark.parametrize(("state", "running"), [(1, True), (2, True), (3, True), (4, False), (5, False),
                                                 (6, False), (7, False)])
def test_running_states(state: int, running: bool) -> None:
    assert parse.domain_stats({**FULL, "state.state": state}, facts()).running is running


@pytest.mark.parametrize(("xml", "live"), [
    (None, True),
    ("", True),
    ('<policy xmlns="https://balancerd.dev/1" live="no"/>', False),
    ('<balancerd:policy xmlns:balancerd="https://balancerd.dev/1" live="no"/>', False),
    ('<policy xmlns="https://balancerd.dev/1" live="yes"/>', True),
    ('<policy xmlns="https://balancerd.dev/1" live="False"/>', False),
    ('<policy xmlns="https://balancerd.dev/1"/>', True),
    ("<not xml", True),
])
def test_live_migratable_metadata(xml: str | None, live: bool) -> None:
    assert parse.live_migratable(xml) is live


def test_policy_from_whole_domain_xml() -> None:
    xml = ("<domain><name>x</name><metadata><balancerd:policy xmlns:balancerd='https://balancerd.dev/1' "
           "live='no'/></metadata></domain>")
    assert parse.policy_from_domain_xml(xml) is False
    assert parse.policy_from_domain_xml("<domain><name>x</name></domain>") is True


def test_node_busy_ns() -> None:
    assert parse.node_busy_ns({"kernel": 3, "user": 4, "idle": 100, "iowait": 1}) == 7
    assert parse.node_busy_ns({"total": 100, "idle": 60}) == 40


def test_running_job_converts_dirty_pages_to_mib_s() -> None:
    stats = {"type": 2, "time_elapsed": 1500, "data_total": 100, "data_processed": 40, "data_remaining": 60,
             "memory_dirty_rate": 2560, "memory_page_size": 4096, "downtime": 300}
    job = parse.running_job("vm1", stats)
    assert job.state is JobState.RUNNING
    assert (job.elapsed_ms, job.data_total, job.data_processed, job.data_remaining) == (1500, 100, 40, 60)
    assert job.dirty_rate_mib_s == 10
    assert job.downtime_ms is None  # the source's 'downtime' is the setting, not a measurement


def test_completed_job_keeps_downtime_and_falls_back_for_elapsed() -> None:
    job = parse.completed_job("vm1", {"downtime": 120, "data_processed": 7}, 900)
    assert (job.state, job.downtime_ms, job.elapsed_ms, job.data_processed) == (JobState.COMPLETED, 120, 900, 7)
    assert parse.completed_job("vm1", {}, 5).downtime_ms is None


def test_abort_messages() -> None:
    assert parse.is_abort_message("operation aborted: job 'migration out' canceled by client")
    assert parse.is_abort_message("migration out: canceled by client")
    assert not parse.is_abort_message("Domain not found")
