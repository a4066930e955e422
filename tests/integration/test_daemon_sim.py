"""End to end on the simulated cluster: `balancerd run` as a subprocess, driven by `balancerctl`.

Starts the daemon on a small simulated cluster, puts a host into maintenance with balancerctl, and checks
through the metrics endpoint and `balancerctl status` that the host ends empty and that no host ever went
over capacity; then SIGHUP with a bad config is refused, SIGTERM stops cleanly and removes the pid file.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.journal import Journal
from tests.integration.processes import scrape, sim_daemon_config, stop, wait_for

CONFIG = sim_daemon_config(speed=300.0, max_moves=6, metrics="port = 0")

BIN = Path(sys.executable).parent


def _ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "balancerctl"), "--config", str(config), *args], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def _status(config: Path) -> dict[str, object]:
    proc = _ctl(config, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


def _max_utilisation(text: str) -> float:
    values = [float(m.group(1)) for m in re.finditer(r'^balancerd_host_utilisation_ratio\{[^}]*\} (\S+)$', text,
                                                    re.MULTILINE)]
    assert values, "no utilisation samples"
    return max(values)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    config = tmp_path / "balancerd.toml"
    config.write_text(CONFIG)
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_for(lambda: (tmp_path / "status.json").exists() or proc.poll() is not None, 60, "first status")
        assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
        yield proc, config
    finally:
        stop(proc, timeout=60)
        log.close()


def test_drain_through_balancerctl(daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    port = int(_status(config)["metrics_port"])  # type: ignore[call-overload]
    peak = _max_utilisation(scrape(port))
    assert _ctl(config, "maintenance", "enter", "host02").returncode == 0

    def drained() -> bool:
        nonlocal peak
        peak = max(peak, _max_utilisation(scrape(port)))
        doc = _status(config)
        host02 = next(h for h in doc["hosts"] if h["name"] == "host02")  # type: ignore[attr-defined]
        return bool(host02["maintenance"] and host02["vms"] == 0)

    wait_for(drained, 90, "host02 to be empty")
    text = scrape(port)
    assert re.search(r'^balancerd_drain_vms_remaining\{host="host02"\} 0\.0$', text, re.MULTILINE)
    assert re.search(r'^balancerd_hosts_in_maintenance 1\.0$', text, re.MULTILINE)
    succeeded = re.search(r'^balancerd_migrations_total\{kind="live",outcome="succeeded"\} (\S+)$', text,
                          re.MULTILINE)
    assert succeeded and float(succeeded.group(1)) >= 1
    assert peak <= 1.0, f"a host went over capacity: utilisation {peak}"
    table = _ctl(config, "status")
    assert re.search(r"^host02\s+maintenance\s+0\b", table.stdout, re.MULTILINE), table.stdout
    assert proc.poll() is None


def test_bad_reload_is_refused_and_sigterm_stops_cleanly(daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    good = config.read_text()
    config.write_text(good.replace('mode = "enforce"', 'mode = "sometimes"'))
    proc.send_signal(signal.SIGHUP)
    log_file = config.parent / "daemon.log"
    wait_for(lambda: "reload refused, keeping the old config" in log_file.read_text() or proc.poll() is not None,
             60, "the reload to be refused")
    assert proc.poll() is None, "a bad reload must not stop the daemon"
    config.write_text(good)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert "'mode'" in log_file.read_text()
    assert not (config.parent / "balancerd.pid").exists()
    journal = Journal(config.parent / "journal.sqlite")
    try:
        assert journal.unfinished() == (), "SIGTERM left a migration half-recorded"
        assert journal.migrations(), "the daemon migrated nothing before it was stopped"
    finally:
        journal.close()
