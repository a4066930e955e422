"""A host whose libvirt daemon hangs (SIGSTOP) on an open connection cannot stall collection (issue 18).

Its own 3-host lab. First the collector over a real LibvirtCluster: with host2's libvirtd stopped, a collection
returns with host2 unreachable and host1 / host3 with their guests. Then a real daemon (mode recommend, metrics
on 127.0.0.1): cycles keep completing within ``host_timeout_s + interval_s`` while host2 hangs, the metrics say
``balancerd_host_reachable{host="host2"} 0``, and after SIGCONT host2 is reachable again. The daemon is always
continued in a finally block.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd import config as config_mod
from balancerd.backends.libvirt.cluster import LibvirtCluster
from balancerd.clock import SystemClock
from balancerd.collect import Collector

from .conftest import lab_status, private_lab
from .libvirt_lab import LOAD_MARGIN, status_cycle, wait_until

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
HOST_TIMEOUT_S = 2.0
RECONNECT_S = 60.0  # the connection pool's back-off tops out well below this; then a few cycles


@pytest.fixture(scope="module")
def hung_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-hung", hosts=3, vms=3) as status:
        yield status


@contextlib.contextmanager
def _stopped(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _libvirtd(lab: dict[str, Any], host: str) -> int:
    entry = next(h for h in lab_status(Path(lab["dir"]))["hosts"] if h["name"] == host)
    assert entry["libvirtd_pid"], entry
    return int(entry["libvirtd_pid"])




def test_collection_gives_up_a_hung_host(hung_lab: dict[str, Any]) -> None:
    cfg = config_mod.load(Path(hung_lab["config"]))
    p2p = {h["name"]: h["p2p_uri"] for h in hung_lab["hosts"]}
    with LibvirtCluster(cfg.hosts, SystemClock(), allow_unsafe=True, p2p_uris=p2p, connect_timeout_s=3.0) as backend:
        collector = Collector(backend, workers=3, host_timeout_s=HOST_TIMEOUT_S, include_node_overhead=False)
        assert all(h.reachable for h in collector.collect(time.time()).snapshot.hosts)
        with _stopped(_libvirtd(hung_lab, "host2")):
            result = collector.collect(time.time())
            again = collector.collect(time.time())  # the stuck call is not repeated, nor waited for
        snap = result.snapshot
        assert [(h.name, h.reachable) for h in snap.hosts] == [("host1", True), ("host2", False), ("host3", True)]
        assert {vm.host for vm in snap.vms} == {"host1", "host3"}
        assert any("host2 did not answer" in e for e in result.errors), result.errors
        assert any(e.startswith("host host2 still stuck") for e in again.errors), again.errors
        wait_until(lambda: collector.collect(time.time()).snapshot.hosts[1].reachable, RECONNECT_S, "host2 to answer")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(lab: dict[str, Any], tmp: Path, port: int) -> Path:
    text = Path(lab["config"]).read_text()
    text = text.replace('mode = "enforce"', 'mode = "recommend"')
    text = text.replace("[collect]\n", f"[collect]\nhost_timeout_s = {HOST_TIMEOUT_S}\n")
    text = text.replace("[metrics]\nenabled = false\nport = 0", f'[metrics]\nenabled = true\naddress = "127.0.0.1"\n'
                        f"port = {port}")
    path = tmp / "balancerd.toml"
    path.write_text(text)
    return path




def _reachable(port: int, host: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    prefix = f'balancerd_host_reachable{{host="{host}"}} '
    return next((line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)), None)


def test_the_daemon_keeps_cycling_while_a_host_hangs(hung_lab: dict[str, Any], tmp_path: Path) -> None:
    port = _free_port()
    config_path = _config(hung_lab, tmp_path, port)
    cfg = config_mod.load(config_path)
    cfg.paths.status_file.unlink(missing_ok=True)
    per_cycle = LOAD_MARGIN * (cfg.collect.host_timeout_s + cfg.interval_s)
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config_path)], stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: status_cycle(cfg.paths.status_file) > 0 or daemon.poll() is not None, 60, "the first cycle")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        with _stopped(_libvirtd(hung_lab, "host2")):
            for _ in range(3):
                seen = status_cycle(cfg.paths.status_file)
                wait_until(lambda: status_cycle(cfg.paths.status_file) > seen, per_cycle,  # noqa: B023
                      f"a cycle after cycle {seen} while host2 hangs")
            assert _reachable(port, "host2") == "0.0"
            assert _reachable(port, "host1") == "1.0"
        wait_until(lambda: _reachable(port, "host2") == "1.0", RECONNECT_S, "host2 to be reachable again")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "daemon.log").read_text()
