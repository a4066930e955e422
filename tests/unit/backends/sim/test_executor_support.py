"""The simulated backend's answers to the executor's pre-flight, steering and reconciliation calls."""

from __future__ import annotations

import pytest

from balancerd.backends.base import DomainState, JobState, MigrationRequest, Placement
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.errors import PermanentBackendError


def cluster(dirty: int = 0) -> tuple[SimCluster, FakeClock]:
    clock = FakeClock(0.0)
    hosts = [SimHost("h1", 8, 16384), SimHost("h2", 8, 16384)]
    vms = [SimVm("a", "h1", 2, 4096, 10.0, dirty_rate_mib_s=dirty), SimVm("b", "h2", 2, 2048, 10.0),
           SimVm("pinned", "h1", 1, 1024, 10.0, live_migratable=False)]
    return SimCluster(hosts, vms, clock, link_mib_s=100), clock


def test_preflight_reports_memory_dirty_rate_policy_and_free_memory() -> None:
    sim, _clock = cluster(dirty=7)
    facts = sim.preflight(MigrationRequest("a", "h1", "h2"))
    assert (facts.memory_mib, facts.dirty_rate_mib_s, facts.dest_free_mib) == (4096, 7, 16384 - 2048)
    assert facts.policy.live and all(c.ok for c in facts.checks)
    assert not sim.preflight(MigrationRequest("pinned", "h1", "h2")).policy.live
    sim.set_host_down("h2")
    assert not sim.preflight(MigrationRequest("a", "h1", "h2")).checks[0].ok


def test_postcopy_finishes_a_migration_that_cannot_converge() -> None:
    sim, clock = cluster(dirty=150)
    sim.start_migration(MigrationRequest("a", "h1", "h2", postcopy=True))
    clock.advance(10.0)
    running = sim.job_stats("a")
    assert running.state is JobState.RUNNING and running.iteration >= 1
    sim.set_max_downtime("a", 500)
    sim.start_postcopy("a")
    clock.advance(4096 / 100 + 0.1)
    assert sim.job_stats("a").state is JobState.COMPLETED
    assert sim.locate("a") == ("h2",)


def test_steering_without_a_running_job_is_refused() -> None:
    sim, _clock = cluster()
    with pytest.raises(PermanentBackendError):
        sim.set_max_downtime("a", 100)
    with pytest.raises(PermanentBackendError):
        sim.start_postcopy("a")


def test_inspect_resume_undefine_and_pools() -> None:
    sim, _clock = cluster()
    assert sim.inspect("a") == (Placement("h1", DomainState.RUNNING, True, False),)
    sim.resume("a", "h1")
    with pytest.raises(PermanentBackendError):
        sim.resume("a", "h2")
    with pytest.raises(PermanentBackendError):
        sim.undefine("a", "h1")
    assert sim.storage_pools("h1") == ()
    with pytest.raises(PermanentBackendError):
        sim.start_disk_move("a", "h1", "vda", "fast")
