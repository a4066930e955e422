"""Helpers for the e2e tests of the libvirt backend (tests/e2e/test_libvirt_backend.py, tests/contract/).

A LibvirtCluster over a running lab (its generated config plus the p2p URIs from `lab status`), reading a
guest's serial console (path from the domain XML's <serial><source path=.../>), and waiting for a
migration to end; `balancerd run` as a subprocess (:func:`running_daemon`) and `balancerctl` (:func:`ctl`).
Real time: these run against real daemons.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import libvirt

from balancerd import config
from balancerd.backends.base import JobStats
from balancerd.backends.libvirt.cluster import LibvirtCluster
from balancerd.clock import SystemClock

TICK = re.compile(r"TICK (\d+) boot=(\w+)")

GUEST_MIB = 96
# Lab notes: a live migration's setup takes 2.0-2.2 s on a busy machine; a job counts as running once QEMU
# has sent its first bytes. Margins (x3) cover a machine loaded by other work; the loops end on events.
SETUP_S = 2.2
LOAD_MARGIN = 3.0


def transfer_deadline_s(bandwidth_mib_s: int, passes: float = 1.0) -> float:
    """How long ``passes`` copies of a lab guest's memory take at ``bandwidth_mib_s``, with the load margin."""
    return LOAD_MARGIN * (SETUP_S + passes * GUEST_MIB / bandwidth_mib_s)


def backend_for(status: dict[str, Any], connect_timeout_s: float = 5.0) -> LibvirtCluster:
    """The backend a daemon would build from the lab's config, with the lab's p2p URIs."""
    cfg = config.load(Path(status["config"]))
    p2p = {h["name"]: h["p2p_uri"] for h in status["hosts"]}
    return LibvirtCluster(cfg.hosts, SystemClock(), allow_unsafe=cfg.throttle.allow_unsafe, p2p_uris=p2p,
                          connect_timeout_s=connect_timeout_s)


def host_uri(status: dict[str, Any], host: str) -> str:
    return next(h["uri"] for h in status["hosts"] if h["name"] == host)


def console_path(uri: str, vm: str) -> Path:
    """The serial console file of ``vm`` from its live XML on the host at ``uri``."""
    conn = libvirt.open(uri)
    try:
        xml = conn.lookupByName(vm).XMLDesc(0)
    finally:
        conn.close()
    source = ET.fromstring(xml).find("devices/serial[@type='file']/source")
    assert source is not None, f"{vm} has no file serial console"
    return Path(source.attrib["path"])


def ticks(path: Path) -> list[tuple[int, str]]:
    """Every (counter, boot id) the guest printed so far."""
    text = path.read_text(errors="replace")
    return [(int(m.group(1)), m.group(2)) for m in TICK.finditer(text)]


def last_tick(path: Path) -> int:
    found = ticks(path)
    return found[-1][0] if found else -1


def wait_tick_beyond(path: Path, counter: int, timeout_s: float = 30.0) -> int:
    """Wait until the console shows a counter above ``counter``; return the newest one (or -1)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        newest = last_tick(path)
        if newest > counter:
            return newest
        time.sleep(0.2)
    return last_tick(path)


def wait_final(backend: LibvirtCluster, vm: str, timeout_s: float = 120.0) -> JobStats:
    """Poll ``job_stats`` until the job is in a final state (or the timeout passed)."""
    deadline = time.monotonic() + timeout_s
    stats = backend.job_stats(vm)
    while not stats.state.final and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = backend.job_stats(vm)
    return stats


def active_on(uri: str, vm: str) -> bool:
    conn = libvirt.open(uri)
    try:
        return bool(conn.lookupByName(vm).isActive())
    finally:
        conn.close()


def bytes_sent(uri: str, vm: str) -> int:
    """Bytes the running migration job of ``vm`` on the host at ``uri`` has sent so far (0 before it starts)."""
    conn = libvirt.open(uri)
    try:
        stats = conn.lookupByName(vm).jobStats()
    except libvirt.libvirtError:
        return 0
    finally:
        conn.close()
    return int(stats.get("data_processed", 0)) if stats.get("type") == libvirt.VIR_DOMAIN_JOB_UNBOUNDED else 0


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, poll_s: float = 0.2) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def where(lab: dict[str, Any], vm: str) -> list[tuple[str, int]]:
    """[(host, libvirt state)] of every copy of ``vm`` on the lab's hosts."""
    found = []
    for host in lab["hosts"]:
        conn = libvirt.open(host["uri"])
        try:
            found.append((host["name"], conn.lookupByName(vm).state()[0]))
        except libvirt.libvirtError:
            pass
        finally:
            conn.close()
    return found


def status_cycle(status_file: Path) -> int:
    """The cycle number in a daemon's status file (0 before the first)."""
    try:
        return int(json.loads(status_file.read_text())["cycle"])
    except (OSError, ValueError, KeyError):
        return 0


BIN = Path(sys.executable).parent
"""Where the venv's ``balancerd`` and ``balancerctl`` are."""


def ctl(config_path: Path, *argv: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    """``balancerctl --config CONFIG ARGV...``, its output captured, no standard input."""
    return subprocess.run([str(BIN / "balancerctl"), "--config", str(config_path), *argv], capture_output=True,
                          text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)


@contextmanager
def running_daemon(config_path: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``balancerd run`` until the block ends, after its first cycle (its status file); then SIGTERM, and the
    daemon must stop cleanly (exit 0; the log is in the failure message otherwise)."""
    status_file = config.load(config_path).paths.status_file
    with log_path.open("w") as log:
        daemon = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config_path)], stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: status_file.exists() or daemon.poll() is not None, 60, "the first cycle", 1.0)
            assert daemon.poll() is None, log_path.read_text()
            yield daemon
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=120)
    assert code == 0, log_path.read_text()
