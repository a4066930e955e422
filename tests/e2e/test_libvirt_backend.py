"""e2e tests of balancerd.backends.libvirt.cluster on the real lab: collection, live migration with console
continuity, an abort on a deadline, and a host whose libvirtd is gone.

The migration tests put every guest back where they found it, because the ``lab`` fixture is shared by the
whole session; the dead-daemon test brings up a lab of its own.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from balancerd.backends.base import JobState, MigrationRequest
from balancerd.backends.libvirt.cluster import LibvirtCluster
from balancerd.errors import PermanentBackendError, TransientBackendError
from balancerd.model import MoveKind

from .conftest import private_lab
from .libvirt_lab import (
    active_on,
    backend_for,
    console_path,
    host_uri,
    last_tick,
    ticks,
    wait_final,
    wait_tick_beyond,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def backend(lab: dict[str, Any]) -> Iterator[LibvirtCluster]:
    cluster = backend_for(lab)
    yield cluster
    cluster.close()


def _other_host(lab: dict[str, Any], host: str) -> str:
    return next(h["name"] for h in lab["hosts"] if h["name"] != host)


def _move(backend: LibvirtCluster, vm: str, source: str, dest: str, **kw: Any) -> JobState:
    backend.start_migration(MigrationRequest(vm, source, dest, **kw))
    return wait_final(backend, vm).state


def test_collection_returns_every_guest_with_plausible_figures(lab: dict[str, Any],
                                                               backend: LibvirtCluster) -> None:
    assert all(h.reachable and h.cpus > 0 and h.memory_mib > 0 for h in backend.hosts())
    first = {r.name: r for h in lab["hosts"] for r in backend.domain_stats(h["name"])}
    time.sleep(2.0)
    second = {r.name: r for h in lab["hosts"] for r in backend.domain_stats(h["name"])}
    assert set(lab["guests"]) <= set(second)
    for vm in lab["guests"]:
        a, b = first[vm], second[vm]
        rate = (b.cpu_time_ns - a.cpu_time_ns) / ((b.at - a.at) * 1e9)
        assert 0.0 < rate < 1.0, (vm, rate)
        assert 10 <= b.memory_used_mib <= 96, b
        assert (b.running, b.persistent, b.live_migratable, b.vcpus, b.memory_mib) == (True, True, True, 1, 96)
    for h in lab["hosts"]:
        node = backend.node_stats(h["name"])
        assert node.cpu_time_ns > 0 and 0 < node.memory_free_mib < node.memory_total_mib


def test_live_migration_keeps_the_guest_running_on_the_destination(lab: dict[str, Any],
                                                                   backend: LibvirtCluster) -> None:
    vm = lab["guests"][0]
    (source,) = backend.locate(vm)
    dest = _other_host(lab, source)
    console = console_path(host_uri(lab, source), vm)
    before = wait_tick_beyond(console, last_tick(console))
    started = time.monotonic()
    backend.start_migration(MigrationRequest(vm, source, dest, max_downtime_ms=300))
    assert backend.job_stats(vm).state in (JobState.RUNNING, JobState.COMPLETED)
    try:
        done = wait_final(backend, vm)
        wall = time.monotonic() - started
        assert done.state is JobState.COMPLETED, done.error
        assert done.data_processed > 0 and done.downtime_ms is not None and 0 < done.downtime_ms < 5000
        assert backend.locate(vm) == (dest,)
        assert active_on(host_uri(lab, dest), vm)
        after = wait_tick_beyond(console, before + 1)
        assert after > before + 1, f"counter stopped at {after} (was {before} before the move)"
        assert len({boot for _n, boot in ticks(console)}) == 1  # no reboot
        assert vm in {r.name for r in backend.domain_stats(dest)}
        assert vm not in {r.name for r in backend.domain_stats(source)}
        print(f"live migration {vm} {source}->{dest}: wall {wall:.2f} s, elapsed {done.elapsed_ms} ms, "
              f"downtime {done.downtime_ms} ms, {done.data_processed} bytes")
    finally:
        if backend.locate(vm) == (dest,):
            assert _move(backend, vm, dest, source) is JobState.COMPLETED


def test_slow_migration_is_aborted_and_the_guest_stays_on_the_source(lab: dict[str, Any],
                                                                     backend: LibvirtCluster) -> None:
    vm = lab["guests"][1]
    (source,) = backend.locate(vm)
    dest = _other_host(lab, source)
    console = console_path(host_uri(lab, source), vm)
    backend.start_migration(MigrationRequest(vm, source, dest, bandwidth_mib_s=1))
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert backend.job_stats(vm).state is JobState.RUNNING
        time.sleep(0.1)
    running = backend.job_stats(vm)
    assert running.data_total > 0 and running.data_remaining > 0
    backend.abort(vm)
    stats = backend.job_stats(vm)
    assert stats.state is JobState.ABORTED, stats
    assert "canceled by client" in stats.error and vm in stats.error
    assert backend.locate(vm) == (source,)
    assert active_on(host_uri(lab, source), vm)
    before = last_tick(console)
    assert wait_tick_beyond(console, before) > before


@pytest.fixture(scope="module")
def own_lab() -> Iterator[dict[str, Any]]:
    """A separate 2-host lab for the tests below, which power guests off and kill a daemon (in this order)."""
    with private_lab("lab-unreachable", hosts=2, vms=2) as status:
        yield status


def test_cold_migration_moves_a_shut_off_guest_and_refuses_a_running_one(own_lab: dict[str, Any]) -> None:
    with backend_for(own_lab) as backend:
        with pytest.raises(PermanentBackendError, match="needs a shut-off VM"):
            backend.start_migration(MigrationRequest("vm1", "host1", "host2", MoveKind.COLD))
        _power_off(host_uri(own_lab, "host1"), "vm1")
        with pytest.raises(PermanentBackendError, match="needs a running VM"):
            backend.start_migration(MigrationRequest("vm1", "host1", "host2"))
        assert _move(backend, "vm1", "host1", "host2", kind=MoveKind.COLD) is JobState.COMPLETED
        assert backend.locate("vm1") == ("host2",)
        row = {r.name: r for r in backend.domain_stats("host2")}["vm1"]
        assert (row.running, row.persistent) == (False, True)
        assert _move(backend, "vm1", "host2", "host1", kind=MoveKind.COLD) is JobState.COMPLETED
        assert backend.locate("vm1") == ("host1",)


def _power_off(uri: str, vm: str) -> None:
    conn = libvirt.open(uri)
    try:
        conn.lookupByName(vm).destroy()
    finally:
        conn.close()


def test_host_with_a_stopped_daemon_is_unreachable_and_collection_carries_on(own_lab: dict[str, Any]) -> None:
    with backend_for(own_lab, connect_timeout_s=2.0) as backend:
        assert [h.reachable for h in backend.hosts()] == [True, True]
        victim = own_lab["hosts"][1]
        _stop_daemon(victim["pid"])
        infos = {h.name: h for h in backend.hosts()}
        assert infos["host1"].reachable and not infos["host2"].reachable
        assert infos["host2"].cpus > 0  # capacity from the config override / last answer
        with pytest.raises(TransientBackendError, match="host2"):
            backend.domain_stats("host2")
        with pytest.raises(TransientBackendError, match="host2"):
            backend.node_stats("host2")
        assert [r.name for r in backend.domain_stats("host1")] == ["vm1"]
        assert backend.locate("vm1") == ("host1",)
        assert backend.locate("vm2") == ()


def _stop_daemon(pid: int) -> None:
    """SIGTERM the host's tini (it forwards to libvirtd) and wait until it is gone."""
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"libvirtd" in cmdline or b"tini" in cmdline, cmdline
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.1)
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
