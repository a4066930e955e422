"""One suite of assertions that every Hypervisor backend must pass: the sim backend and the libvirt one.

What the collector, executor and journal rely on, whatever the backend: inventory, monotone counters,
the RUNNING -> COMPLETED life of a migration that moves the VM, ``locate`` finding a VM exactly once, and
which mistakes are permanent errors. Tests that move a VM move it back (the libvirt lab is shared by the
session).
"""

from __future__ import annotations

import pytest

from balancerd.backends.base import DomainStats, JobState, JobStats, MigrationRequest
from balancerd.errors import PermanentBackendError

from .conftest import Subject

MIGRATION_TIMEOUT_S = 120.0


def all_domains(subject: Subject) -> dict[str, DomainStats]:
    rows = [row for host in subject.hosts for row in subject.backend.domain_stats(host)]
    names = [row.name for row in rows]
    assert len(names) == len(set(names)), f"a VM reported by two hosts: {names}"
    return {row.name: row for row in rows}


def wait_final(subject: Subject, vm: str) -> JobStats:
    """Poll job_stats on the subject's clock (a FakeClock advances, a system clock sleeps)."""
    deadline = subject.clock.now() + MIGRATION_TIMEOUT_S
    stats = subject.backend.job_stats(vm)
    while not stats.state.final and subject.clock.now() < deadline:
        subject.clock.sleep(0.1)
        stats = subject.backend.job_stats(vm)
    return stats


def where(subject: Subject, vm: str) -> str:
    found = subject.backend.locate(vm)
    assert len(found) == 1, f"{vm} defined on {found}"
    return found[0]


def other(subject: Subject, host: str) -> str:
    return next(h for h in subject.hosts if h != host)


def test_hosts_lists_every_host(subject: Subject) -> None:
    infos = subject.backend.hosts()
    assert tuple(h.name for h in infos) == subject.hosts
    assert all(h.reachable and h.cpus > 0 and h.memory_mib > 0 for h in infos)


def test_domain_stats_counters_are_monotone(subject: Subject) -> None:
    first = all_domains(subject)
    subject.clock.sleep(1.0)
    second = all_domains(subject)
    assert set(subject.vms) <= set(first) and set(first) == set(second)
    for vm in subject.vms:
        a, b = first[vm], second[vm]
        assert b.at > a.at
        assert b.cpu_time_ns >= a.cpu_time_ns
        assert b.host == a.host and b.running and b.vcpus >= 1 and 0 < b.memory_used_mib <= b.memory_mib


def test_node_stats_counter_is_monotone(subject: Subject) -> None:
    host = subject.hosts[0]
    a = subject.backend.node_stats(host)
    subject.clock.sleep(1.0)
    b = subject.backend.node_stats(host)
    assert (a.host, b.at > a.at, b.cpu_time_ns >= a.cpu_time_ns) == (host, True, True)
    assert 0 <= b.memory_free_mib <= b.memory_total_mib


def test_locate_finds_every_vm_exactly_once(subject: Subject) -> None:
    placed = {name: row.host for name, row in all_domains(subject).items()}
    for vm in subject.vms:
        assert subject.backend.locate(vm) == (placed[vm],)


def test_migration_runs_then_completes_and_moves_the_vm(subject: Subject) -> None:
    vm = subject.vms[0]
    source = where(subject, vm)
    dest = other(subject, source)
    subject.backend.start_migration(MigrationRequest(vm, source, dest))
    assert subject.backend.job_stats(vm).state is JobState.RUNNING
    try:
        done = wait_final(subject, vm)
        assert done.state is JobState.COMPLETED, done.error
        assert subject.backend.locate(vm) == (dest,)
        assert vm in {r.name for r in subject.backend.domain_stats(dest)}
        assert vm not in {r.name for r in subject.backend.domain_stats(source)}
        assert subject.backend.job_stats(vm).state is JobState.COMPLETED  # kept until the next one
    finally:
        if subject.backend.locate(vm) == (dest,):
            subject.backend.start_migration(MigrationRequest(vm, dest, source))
            assert wait_final(subject, vm).state is JobState.COMPLETED


def test_abort_without_a_running_job_is_permanent(subject: Subject) -> None:
    with pytest.raises(PermanentBackendError):
        subject.backend.abort(subject.vms[0])


def test_unknown_vm_is_permanent(subject: Subject) -> None:
    source, dest = subject.hosts[0], subject.hosts[1]
    with pytest.raises(PermanentBackendError):
        subject.backend.start_migration(MigrationRequest("no-such-vm", source, dest))
    with pytest.raises(PermanentBackendError):
        subject.backend.abort("no-such-vm")


def test_locate_of_an_unknown_vm_is_empty(subject: Subject) -> None:
    """libvirt cannot tell an unknown VM from one defined nowhere, so both answer (); reconciliation needs it."""
    assert subject.backend.locate("no-such-vm") == ()


def test_job_stats_of_a_vm_that_never_migrated_is_none(subject: Subject) -> None:
    """The protocol's "state NONE if there was none"; libvirt cannot tell an unknown VM from such a VM."""
    assert subject.backend.job_stats(subject.vms[1]).state is JobState.NONE
    assert subject.backend.job_stats("no-such-vm").state is JobState.NONE


def test_vm_not_on_the_named_source_is_permanent(subject: Subject) -> None:
    vm = subject.vms[0]
    source = where(subject, vm)
    with pytest.raises(PermanentBackendError):
        subject.backend.start_migration(MigrationRequest(vm, other(subject, source), source))


def test_same_host_and_unknown_host_are_permanent(subject: Subject) -> None:
    vm = subject.vms[0]
    source = where(subject, vm)
    with pytest.raises(PermanentBackendError):
        subject.backend.start_migration(MigrationRequest(vm, source, source))
    with pytest.raises(PermanentBackendError):
        subject.backend.start_migration(MigrationRequest(vm, source, "no-such-host"))
    with pytest.raises(PermanentBackendError):
        subject.backend.domain_stats("no-such-host")
