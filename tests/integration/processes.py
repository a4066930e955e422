"""Helpers the integration tests share: a small simulated cluster's config, waiting, stopping a daemon by PID."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``predicate`` until true; connection errors (a server still starting) count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def status_doc(root: Path) -> dict[str, object]:
    """The daemon's status.json in ``root`` ({} while there is none or it is being replaced)."""
    try:
        doc: dict[str, object] = json.loads((root / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return doc


def scrape(port: object) -> str:
    """The metrics page of the daemon listening on 127.0.0.1:``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def stop(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sim_daemon_config(speed: float, max_moves: int, metrics: str) -> str:
    """Config of an enforcing daemon on 4 simulated hosts / 24 VMs, state files beside the config file."""
    return f"""
mode = "enforce"
interval_s = 60.0
backend = "sim"
[sim]
hosts = 4
vms = 24
host_cpu_m = 16000
host_mem_mib = 65536
speed = {speed}
skew = 0.5
seed = 3
[policy]
max_moves_per_cycle = {max_moves}
cooldown_s = 600
[throttle]
per_host_in = 2
per_host_out = 2
cluster_max = 4
poll_interval_s = 5.0
[paths]
maintenance_file = "maintenance"
journal = "journal.sqlite"
pid_file = "balancerd.pid"
status_file = "status.json"
[control]
socket = "control.sock"
pause_file = "pause"
pause_state = "paused.json"
[metrics]
{metrics}
[logging]
format = "json"
"""
