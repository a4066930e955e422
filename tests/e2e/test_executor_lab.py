"""e2e tests of the executor on the real lab (issue 6): storage copy with the VM and a disk moved between
pools, network mapping, cold moves, convergence of a memory-dirtying guest (only with auto-converge), the
destination's libvirtd killed mid-migration, and the daemon SIGKILLed mid-migration then reconciled.

One private 2-host lab for the module (``vm1`` from `lab up` on host1, more guests added by the tests with
``balancerd.lab.extra``). Moves run through the real :class:`~balancerd.execute.Executor` with a journal in
``tmp_path``; guest health (TICKs continuing) is asserted on idle guests only (lab notes pitfall 12), and
after the daemon's crash only what the balancer answers for is asserted (each VM defined once, running, not
paused, the journal closed with the resume); a guest that stopped ticking there is reported as a warning.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from balancerd import config as config_mod
from balancerd.backends.base import Check
from balancerd.backends.libvirt import storage
from balancerd.backends.libvirt.cluster import LibvirtCluster
from balancerd.clock import SystemClock
from balancerd.config import Config, MigrationConfig, NetworkMapConfig
from balancerd.execute import Executor
from balancerd.execute.preflight import Settings
from balancerd.journal import Journal
from balancerd.lab import control, extra, lifecycle, paths
from balancerd.model import Move, MoveKind, MoveResult, Outcome, Plan

from .conftest import private_lab
from .libvirt_lab import bytes_sent, last_tick, ticks, transfer_deadline_s, wait_tick_beyond, wait_until, where

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
SHARED = (str(paths.SHARED_MOUNT),)
BOOT_TIMEOUT_S = 180.0
RECONNECT_S = 30.0
"""A restarted libvirtd's reconnect to its QEMU processes: well under a second idle (a daemon is ready in about
one, lab notes); 30 s leaves room for a machine busy with the rest of the suite."""
@pytest.fixture(scope="module")
def exec_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-executor", hosts=2, vms=1) as status:
        yield status


def _layout(lab: dict[str, Any]) -> paths.LabLayout:
    return paths.LabLayout(Path(lab["dir"]))


def _config(lab: dict[str, Any]) -> Config:
    return config_mod.load(Path(lab["config"]))


def _uri(lab: dict[str, Any], host: str) -> str:
    return next(h["uri"] for h in lab["hosts"] if h["name"] == host)


def _backend(lab: dict[str, Any]) -> LibvirtCluster:
    cfg = _config(lab)
    p2p = {h["name"]: h["p2p_uri"] for h in lab["hosts"]}
    return LibvirtCluster(cfg.hosts, SystemClock(), allow_unsafe=True, p2p_uris=p2p, shared_paths=SHARED,
                          connect_timeout_s=3.0)


def _execute(lab: dict[str, Any], tmp: Path, vm: str, source: str, dest: str,
             migration: MigrationConfig | None = None, network_map: tuple[NetworkMapConfig, ...] = (),
             bandwidth_mib_s: int = 0, **throttle: Any) -> tuple[MoveResult, tuple[Check, ...]]:
    """One move through a real Executor and Journal; the result and the journalled checks."""
    cfg = _config(lab)
    thr = dataclasses.replace(cfg.throttle, poll_interval_s=0.2, **throttle)
    mig = dataclasses.replace(migration or MigrationConfig(shared_paths=SHARED), bandwidth_mib_s=bandwidth_mib_s)
    journal = Journal(tmp / f"journal-{vm}-{time.monotonic_ns()}.sqlite")
    try:
        with _backend(lab) as backend:
            executor = Executor(backend, SystemClock(), Settings(thr, mig, network_map), journal)
            plan = Plan(1, time.time(), (Move(vm, source, dest, MoveKind.LIVE, "e2e", 1.0, 96),), 0.0, 0.0)
            result = executor.execute(plan, journal.record_plan(plan, "enforce"), lambda _m: None).results[0]
        (entry,) = journal.migrations()
        assert entry.outcome is result.outcome and entry.kind is result.move.kind
        return result, journal.checks(entry.id)
    finally:
        journal.close()




def _running_once_on(lab: dict[str, Any], vm: str, host: str) -> None:
    assert where(lab, vm) == [(host, libvirt.VIR_DOMAIN_RUNNING)]


def _guest(lab: dict[str, Any], name: str, host_index: int = 1, **kw: Any) -> Path:
    console = extra.add_guest(_layout(lab), host_index, name, **kw)
    assert wait_tick_beyond(console, 0, BOOT_TIMEOUT_S) > 0, f"{name} did not boot"
    return console


def _planner_sees_the_local_disk_and_the_pools(lab: dict[str, Any]) -> None:
    """The planning facts read from libvirt: disk1's local disk as the named resource of its pool directory
    (64 MiB), every host's capacity of it (that pool's free space plus its residents' disks), and no
    migration-network problem."""
    images = storage.resource(str(paths.BIND_TARGETS["lib"] / "images"))
    with _backend(lab) as backend:
        row = next(r for r in backend.domain_stats("host1") if r.name == "disk1")
        assert dict(row.extra) == {images: 64}
        for host in ("host1", "host2"):
            (pool,) = (p for p in backend.storage_pools(host) if p.name == "local")
            resident = 64 if host == "host1" else 0
            info = backend.host_info(host)
            capacity = dict(info.extra)[images]
            assert abs(capacity - (pool.available_mib + resident)) <= 64, (host, capacity, pool)
            assert info.migration_problem == "", info.migration_problem  # the lab's hosts reach each other


def test_storage_copy_with_the_vm_then_disk_moved_between_pools(exec_lab: dict[str, Any], tmp_path: Path) -> None:
    layout = _layout(exec_lab)
    console = _guest(exec_lab, "disk1", data_disk_mib=64)
    _planner_sees_the_local_disk_and_the_pools(exec_lab)
    before = wait_tick_beyond(console, last_tick(console))
    result, checks = _execute(exec_lab, tmp_path, "disk1", "host1", "host2")
    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.move.kind is MoveKind.STORAGE and result.downtime_ms is not None
    assert {c.name: c.ok for c in checks}["storage"]
    _running_once_on(exec_lab, "disk1", "host2")
    copied = extra.image_path(layout, 2, "disk1")
    assert extra.data_tick(copied) >= before, "the destination's copy lacks the writes made before the move"
    wait_tick_beyond(console, before + 2)
    assert extra.data_tick(copied) > before  # the guest now writes to the copy
    with _backend(exec_lab) as backend:
        backend.start_disk_move("disk1", "host2", "vda", "shared")
        deadline = time.monotonic() + 120
        stats = backend.job_stats("disk1")
        while not stats.state.final and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = backend.job_stats("disk1")
    assert stats.state.value == "completed", stats.error
    moved = layout.shared / "disk1.img"
    pivot = last_tick(console)
    wait_tick_beyond(console, pivot + 2)
    assert extra.data_tick(moved) > pivot, "the guest does not write to the disk in its new pool"
    xml = libvirt.open(_uri(exec_lab, "host2")).lookupByName("disk1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert str(paths.SHARED_MOUNT / "disk1.img") in xml  # the persistent definition follows the pivot
    assert len({boot for _n, boot in ticks(console)}) == 1


def test_network_mapping_between_two_lab_networks(exec_lab: dict[str, Any], tmp_path: Path) -> None:
    _guest(exec_lab, "net1", network="site-h1")
    skipped, checks = _execute(exec_lab, tmp_path, "net1", "host1", "host2")
    assert skipped.outcome is Outcome.SKIPPED and "network site-h1" in skipped.detail
    assert not {c.name: c.ok for c in checks}["networks"]
    _running_once_on(exec_lab, "net1", "host1")
    mapping = (NetworkMapConfig("site-h1", "site-h2", ("host2",)),)
    moved, _checks = _execute(exec_lab, tmp_path, "net1", "host1", "host2", network_map=mapping)
    assert moved.outcome is Outcome.SUCCEEDED, moved.detail
    _running_once_on(exec_lab, "net1", "host2")
    conn = libvirt.open(_uri(exec_lab, "host2"))
    try:
        dom = conn.lookupByName("net1")
        assert "network='site-h2'" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert "bridge='vmbr-h2'" in dom.XMLDesc(0)
    finally:
        conn.close()


def test_cold_move_of_a_guest_that_forbids_live_migration(exec_lab: dict[str, Any], tmp_path: Path) -> None:
    console = _guest(exec_lab, "cold1", policy="live='no'")
    outside, _checks = _execute(exec_lab, tmp_path, "cold1", "host1", "host2")
    assert outside.outcome is Outcome.SKIPPED and "maintenance window" in outside.detail
    boots = {boot for _n, boot in ticks(console)}
    window = MigrationConfig(shared_paths=SHARED, maintenance_windows=("00:00-23:59", "23:59-00:00"),
                             cold_shutdown_timeout_s=20.0)
    result, checks = _execute(exec_lab, tmp_path, "cold1", "host1", "host2", window)
    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.move.kind is MoveKind.COLD and result.downtime_ms is not None and result.downtime_ms > 0
    assert "cold inside a maintenance window" in {c.name: c.detail for c in checks}["kind"]
    _running_once_on(exec_lab, "cold1", "host2")
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while {boot for _n, boot in ticks(console)} == boots and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len({boot for _n, boot in ticks(console)} - boots) == 1, "not booted again on the destination"
    print(f"cold move: downtime {result.downtime_ms} ms")


def test_dirtying_guest_converges_only_with_auto_converge(exec_lab: dict[str, Any], tmp_path: Path) -> None:
    layout = _layout(exec_lab)
    control.set_load(layout, "vm1", 100, 24)
    try:
        wait_until(lambda: _cpu_share(exec_lab, "vm1", "host1") > 0.3, BOOT_TIMEOUT_S, "vm1 to start dirtying memory")
        # 24 MiB/s dirtied against a 4 MiB/s link never converges at 50 ms: the deadline only has to end it.
        stuck = MigrationConfig(shared_paths=SHARED, downtime_schedule_ms=(50,), auto_converge=False,
                                deadline_min_s=25.0)
        aborted, _checks = _execute(exec_lab, tmp_path, "vm1", "host1", "host2", stuck, bandwidth_mib_s=4,
                                    deadline_s=25.0)
        assert aborted.outcome is Outcome.ABORTED, aborted.detail
        _running_once_on(exec_lab, "vm1", "host1")
        # Throttled from 40 % in steps of 20 %, the guest is down to a trickle within about four passes.
        converge_s = transfer_deadline_s(4, passes=4)
        converging = MigrationConfig(shared_paths=SHARED, downtime_schedule_ms=(50,), auto_converge=True,
                                     auto_converge_initial_pct=40, auto_converge_increment_pct=20,
                                     deadline_min_s=converge_s)
        done, _checks = _execute(exec_lab, tmp_path, "vm1", "host1", "host2", converging, bandwidth_mib_s=4,
                                 deadline_s=converge_s)
        assert done.outcome is Outcome.SUCCEEDED, done.detail
        _running_once_on(exec_lab, "vm1", "host2")
        print(f"dirtying guest: aborted after {aborted.duration_s:.1f} s without auto-converge; "
              f"with it done in {done.duration_s:.1f} s, downtime {done.downtime_ms} ms")
    finally:
        control.set_load(layout, "vm1", 0, 0)


def test_destination_daemon_killed_mid_migration(exec_lab: dict[str, Any], tmp_path: Path) -> None:
    console = _guest(exec_lab, "kill1")
    victim = next(h for h in exec_lab["hosts"] if h["name"] == "host2")
    pid = _current_pid(exec_lab, 2)
    outcome: list[tuple[MoveResult, tuple[Check, ...]]] = []
    mover = threading.Thread(target=lambda: outcome.append(
        _execute(exec_lab, tmp_path, "kill1", "host1", "host2", bandwidth_mib_s=2)))
    mover.start()
    wait_until(lambda: bytes_sent(_uri(exec_lab, "host1"), "kill1") > 0, transfer_deadline_s(2),
          "the migration of kill1 to send its first bytes")
    _kill_daemon(pid)
    mover.join(transfer_deadline_s(2))
    assert outcome, "the executor did not return"
    failed = outcome[0][0]
    assert failed.outcome in (Outcome.FAILED, Outcome.ABORTED), failed
    lifecycle.restart_daemon(_layout(exec_lab), victim["index"])
    # the restarted libvirtd kills the incoming copy (paused, its migration never finished) in its reconnect
    # thread, after it already answers: wait for that rather than catch the copy in between (seen under load)
    wait_until(lambda: where(exec_lab, "kill1") == [("host1", libvirt.VIR_DOMAIN_RUNNING)], RECONNECT_S,
               "host2's restarted libvirtd to remove the incoming copy of kill1")
    before = last_tick(console)
    assert wait_tick_beyond(console, before) > before
    retried, _checks = _execute(exec_lab, tmp_path, "kill1", "host1", "host2")
    assert retried.outcome is Outcome.SUCCEEDED, retried.detail
    _running_once_on(exec_lab, "kill1", "host2")


def _current_pid(lab: dict[str, Any], index: int) -> int:
    from balancerd.lab import state
    recorded = state.load(_layout(lab).state_file)
    assert recorded is not None
    return next(h.pid for h in recorded.hosts if h.index == index)


def _kill_daemon(tini_pid: int) -> None:
    """SIGKILL the libvirtd under the host's tini (tini then exits too)."""
    children = Path(f"/proc/{tini_pid}/task/{tini_pid}/children").read_text().split()
    daemon = next(int(c) for c in children if b"libvirtd" in Path(f"/proc/{c}/cmdline").read_bytes())
    os.kill(daemon, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{tini_pid}").exists():
        state = Path(f"/proc/{tini_pid}/stat").read_text().split(")")[-1].split()[0]
        if state == "Z":
            break
        time.sleep(0.1)


def test_daemon_sigkilled_mid_migration_then_reconciled(exec_lab: dict[str, Any], tmp_path: Path) -> None:
    console = _guest(exec_lab, "crash1")
    cfg = _config(exec_lab)
    text = Path(exec_lab["config"]).read_text()
    config_path = tmp_path / "balancerd.toml"
    config_path.write_text(text + f'\n[migration]\nbandwidth_mib_s = 3\nshared_paths = ["{SHARED[0]}"]\n')
    for stale in (cfg.paths.journal, cfg.paths.status_file):
        stale.unlink(missing_ok=True)
    cfg.paths.maintenance_file.write_text("host1\n")
    journal_path = cfg.paths.journal
    log = (tmp_path / "daemon.log").open("w")
    try:
        daemon = _start_daemon(config_path, log)
        try:
            record = _wait_open_record(journal_path, daemon, tmp_path)
            wait_until(lambda: bytes_sent(_uri(exec_lab, "host1"), record) > 0, transfer_deadline_s(3),
                  f"the migration of {record} to send its first bytes")
        finally:
            daemon.kill()
            daemon.wait(30)
        vm = record
        holder = _pause_when_the_job_ended(exec_lab, vm)  # as if the migration had left it paused there
        restarted = _start_daemon(config_path, log)
        try:
            wait_until(lambda: _settled(journal_path), 180, "the journal to be reconciled", poll_s=1.0)
            wait_until(lambda: all(len(where(exec_lab, g)) == 1 and where(exec_lab, g)[0][1] == 1
                              and where(exec_lab, g)[0][0] == "host2" for g in ("vm1", "crash1")),
                  240, "host1 to be drained", poll_s=1.0)
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(120)
    finally:
        cfg.paths.maintenance_file.write_text("")
        log.close()
    journal = Journal(journal_path)
    try:
        entries = journal.migrations()
        assert not journal.unfinished()
        interrupted = next(e for e in reversed(entries) if e.vm == vm)
        assert interrupted.outcome is not None, entries
        assert "reconciled after restart" in interrupted.detail, interrupted
        assert f"resumed the paused VM on {holder}" in interrupted.detail, interrupted
    finally:
        journal.close()
    for guest in ("vm1", "crash1"):
        _running_once_on(exec_lab, guest, "host2")  # defined once, running (not paused): nothing lost
    _report_guest_health(exec_lab, console, "crash1", "host2")
    print(f"reconciled: {interrupted.outcome}: {interrupted.detail}")


def _cpu_share(lab: dict[str, Any], vm: str, host: str, seconds: float = 1.0) -> float:
    """Fraction of one core ``vm`` used over the next ``seconds``."""
    before = _cpu_ns(lab, vm, host)
    time.sleep(seconds)
    return (_cpu_ns(lab, vm, host) - before) / 1e9 / seconds


def _cpu_ns(lab: dict[str, Any], vm: str, host: str) -> int:
    conn = libvirt.open(_uri(lab, host))
    try:
        return int(conn.lookupByName(vm).info()[4])
    finally:
        conn.close()


def _report_guest_health(lab: dict[str, Any], console: Path, vm: str, host: str) -> None:
    """Guest health after a migration is QEMU's, not the balancer's, so it is reported, not asserted.

    Seen once in 8 runs of this test: after the slow (3 MiB/s, auto-converge) migration, pause and resume, the idle TCG
    guest stayed RUNNING for libvirt while its CPU time stopped growing and it printed nothing more (halted
    with no timer interrupt; lab notes pitfall 12 saw TCG guests corrupted by migrations). The balancer's
    part (defined once, running, journal closed with the resume) is asserted by the caller.
    """
    before, cpu0 = last_tick(console), _cpu_ns(lab, vm, host)
    if wait_tick_beyond(console, before, 60.0) > before:
        return
    cpu_ms = (_cpu_ns(lab, vm, host) - cpu0) // 1_000_000
    boots = sorted({boot for _n, boot in ticks(console)})
    tail = console.read_text(errors="replace")[-1500:]
    warnings.warn(f"{vm} is running on {host} but its guest stopped ticking after TICK {before} (boot ids "
                  f"{boots}, {cpu_ms} ms of CPU in 60 s); console tail:\n{tail}", stacklevel=2)


def _pause_when_the_job_ended(lab: dict[str, Any], vm: str) -> str:
    """Wait until libvirt's job of ``vm`` has ended on every host, pause the VM where it runs; that host."""
    with _backend(lab) as backend:
        deadline = time.monotonic() + 120
        copies = backend.inspect(vm)
        while any(c.job_active for c in copies) and time.monotonic() < deadline:
            time.sleep(0.5)
            copies = backend.inspect(vm)
        (holder,) = [c.host for c in copies if c.state.value == "running"]
    conn = libvirt.open(_uri(lab, holder))
    try:
        dom = conn.lookupByName(vm)
        dom.suspend()
        assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    finally:
        conn.close()
    return holder


def _start_daemon(config_path: Path, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config_path)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_open_record(path: Path, daemon: subprocess.Popen[bytes], tmp: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert daemon.poll() is None, (tmp / "daemon.log").read_text()
        if path.exists():
            journal = Journal(path)
            try:
                open_rows = journal.unfinished()
            finally:
                journal.close()
            if open_rows:
                return open_rows[0].vm
        time.sleep(0.2)
    raise AssertionError(f"no migration started: {(tmp / 'daemon.log').read_text()}")


def _settled(path: Path) -> bool:
    journal = Journal(path)
    try:
        return not journal.unfinished() and any("reconciled" in e.detail for e in journal.migrations())
    finally:
        journal.close()

