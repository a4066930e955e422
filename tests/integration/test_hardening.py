"""Hardening (issue 19) through the real entry points: `balancerd run` as a process with signals, `balancerctl`
and `balancerd journal recover` as processes, files made as an operator would make them.

Each case reproduces a hole the issue names: a broken or hostile maintenance file, a fuzzed set of bad configs
sent by SIGHUP, a pid file naming an unrelated process, a FIFO where a config is expected, a damaged journal, a
state directory that cannot be written when the daemon stops.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.journal import Journal
from tests.integration.processes import scrape, sim_daemon_config, status_doc, stop, wait_for

CONFIG = sim_daemon_config(speed=300.0, max_moves=4, metrics='address = "127.0.0.1"\nport = 0')
BIN = Path(sys.executable).parent
START_S = 60.0  # the first cycle of a 4-host simulated daemon, with room for a loaded machine


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def _start(config: Path) -> subprocess.Popen[str]:
    log = (config.parent / "daemon.log").open("a")
    return subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)


def _log(root: Path) -> str:
    return (root / "daemon.log").read_text(errors="replace")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    config = tmp_path / "balancerd.toml"
    config.write_text(CONFIG)
    proc = _start(config)
    try:
        wait_for(lambda: bool(status_doc(tmp_path)) or proc.poll() is not None, START_S, "the first cycle")
        assert proc.poll() is None, _log(tmp_path)
        yield proc, config
    finally:
        stop(proc, timeout=60)


def _cycle(root: Path) -> int:
    return int(status_doc(root).get("cycle", 0))  # type: ignore[call-overload]


def _next_cycles(root: Path, count: int = 2) -> None:
    seen = _cycle(root)
    wait_for(lambda: _cycle(root) >= seen + count, START_S, f"{count} more cycles after cycle {seen}")


def _metric(root: Path, name: str) -> float:
    text = scrape(status_doc(root)["metrics_port"])
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_broken_maintenance_file_keeps_the_last_good_set_and_balancing_goes_on(
        daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    root = config.parent
    maintenance = root / "maintenance"
    assert _run("balancerctl", "--config", str(config), "maintenance", "enter", "host02").returncode in (0, 3)
    wait_for(lambda: "host02" in status_doc(root).get("maintenance", []), START_S, "host02 in maintenance")  # type: ignore[operator]
    maintenance.write_bytes(b"\x00\x01\x02\xff garbage")  # binary content
    _next_cycles(root)
    doc = status_doc(root)
    assert doc["maintenance"] == ["host02"], "the last good set must stay in force"
    assert "binary content" in str(doc["maintenance_error"]) or "not UTF-8" in str(doc["maintenance_error"])
    assert _metric(root, "balancerd_maintenance_file_errors_total") >= 1
    maintenance.write_text("host02\nhots03\n")  # a typo
    _next_cycles(root)
    doc = status_doc(root)
    assert doc["maintenance"] == ["host02"] and "unknown host(s) hots03" in str(doc["maintenance_error"])
    maintenance.unlink()
    maintenance.symlink_to(root / "balancerd.toml")  # the daemon runs as root: a link is refused
    _next_cycles(root)
    doc = status_doc(root)
    assert "symbolic link" in str(doc["maintenance_error"]) and doc["maintenance"] == ["host02"]
    ctl = _run("balancerctl", "--config", str(config), "maintenance", "enter", "host01")
    assert ctl.returncode != 0 and "symbolic link" in ctl.stderr, ctl
    assert maintenance.is_symlink() and "host01" not in (root / "balancerd.toml").read_text()
    assert proc.poll() is None


BAD_CONFIGS = [
    'interval_s = nan', 'interval_s = inf', 'interval_s = -1', 'interval_s = "soon"', 'interval_s = 1' + '0' * 400,
    'mode = "sometimes"', 'bogus = 1', '[[[', "mode = 'enforce'\nmode = 'enforce'", 'sim = 5',
    'a = ' + '[' * 3000 + ']' * 3000, '[metrics]\naddress = "999.1.1.1"', '[metrics]\nport = 70000',
    '[policy]\nmax_moves_per_cycle = 1e3', '[throttle]\nbandwidth_mib_s = 10', '[[hosts]]\nname = 5',
    '[policy]\nheadroom_pct = 1000', '[control]\ntcp_address = "127.0.0.1"',
]


def _refusals(root: Path) -> int:
    return _log(root).count("reload refused, keeping the old config")


def test_a_fuzzed_set_of_bad_configs_by_sighup_never_stops_the_daemon(
        daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    good = config.read_text()
    variants = [good + "\n" + bad + "\n" for bad in BAD_CONFIGS]
    variants += [bad + "\n" + good for bad in BAD_CONFIGS[:5]]
    variants += ["\x00\xff binary", good + '\nmode = "enf']  # binary, a file cut off inside a string
    for number, text in enumerate(variants, start=1):
        config.write_bytes(text.encode("utf-8", "surrogateescape"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: _refusals(config.parent) >= number or proc.poll() is not None,  # noqa: B023
                 30, f"the refusal of bad config {number}")
        assert proc.poll() is None, f"bad config {number} ended the daemon:\n{text[:200]}\n{_log(config.parent)}"
    assert "Traceback" not in _log(config.parent) and _refusals(config.parent) == len(variants)
    assert "reloaded" not in _log(config.parent)
    config.write_text(good)
    _next_cycles(config.parent)
    assert status_doc(config.parent)["mode"] == "enforce"


def test_a_pid_file_naming_an_unrelated_process_is_not_trusted(tmp_path: Path) -> None:
    config = tmp_path / "balancerd.toml"
    config.write_text(CONFIG)
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / "balancerd.pid").write_text(f"{unrelated.pid}\n")  # a stale file whose pid was reused
        ctl = _run("balancerctl", "--config", str(config), "maintenance", "enter", "host02")
        assert ctl.returncode == 3, ctl  # not running: the file was edited, nobody signalled
        assert unrelated.poll() is None, "balancerctl signalled an unrelated process"
        proc = _start(config)
        try:
            wait_for(lambda: bool(status_doc(tmp_path)) or proc.poll() is not None, START_S, "the first cycle")
            assert proc.poll() is None, _log(tmp_path)
            second = _run("balancerd", "run", "--config", str(config), timeout=60)
            assert second.returncode == 1 and f"already runs with pid {proc.pid}" in second.stderr, second
        finally:
            stop(proc, timeout=60)
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_fifo_config_neither_blocks_a_reload_nor_the_stop(daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    fifo = config.parent / "fifo.toml"
    os.mkfifo(fifo)
    config.unlink()
    config.symlink_to(fifo)  # the path now resolves to a named pipe nobody writes to
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "regular file" in _log(config.parent), 30, "the FIFO reload to be refused")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    print(f"stopped {time.monotonic() - t0:.1f} s after SIGTERM")


def test_a_damaged_journal_names_the_recovery_and_recover_starts_afresh(tmp_path: Path) -> None:
    config = tmp_path / "balancerd.toml"
    config.write_text(CONFIG)
    journal = tmp_path / "journal.sqlite"
    journal.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))  # a truncated, scrambled database
    refused = _run("balancerd", "run", "--config", str(config))
    assert refused.returncode == 1 and "balancerd journal recover --config" in refused.stderr, refused
    recovered = _run("balancerd", "journal", "recover", "--config", str(config), "--json")
    assert recovered.returncode == 0, recovered
    report = json.loads(recovered.stdout)
    assert len(report["moved"]) == 1 and Path(report["moved"][0]).read_bytes().startswith(b"SQLite format 3")
    assert report["vms"] == 24 and report["attention"] == []
    fresh = Journal(journal)
    try:
        assert [a.action for a in fresh.actions()] == ["journal recover"]
    finally:
        fresh.close()
    again = _run("balancerd", "journal", "recover", "--config", str(config))
    assert again.returncode == 1 and "is healthy" in again.stderr
    proc = _start(config)
    try:
        wait_for(lambda: bool(status_doc(tmp_path)) or proc.poll() is not None, START_S, "the first cycle")
        assert proc.poll() is None, _log(tmp_path)
    finally:
        stop(proc, timeout=60)


def test_status_says_when_cycles_fail_and_exits_7(daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    root = config.parent
    locker = sqlite3.connect(root / "journal.sqlite", isolation_level=None, timeout=30)
    try:
        locker.execute("BEGIN IMMEDIATE")  # every cycle now fails to record its plan (SQLite busy timeout)
        wait_for(lambda: status_doc(root).get("last_cycle_ok") is False, START_S, "a failed cycle in the status")
        failing = _run("balancerctl", "--config", str(config), "status")
        assert failing.returncode == 7, failing
        assert "LAST CYCLE FAILED at" in failing.stdout and "locked" in failing.stdout
        assert "figures below are from the last good cycle" in failing.stdout
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    wait_for(lambda: status_doc(root).get("last_cycle_ok") is True, START_S, "a good cycle again")
    assert _run("balancerctl", "--config", str(config), "status").returncode == 0
    assert proc.poll() is None


def _immutable(path: Path, on: bool) -> None:
    """``chattr +i`` / ``-i``: even root can then neither create, rename nor remove entries in ``path``."""
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)


def test_stopping_with_an_unwritable_state_directory_says_so_without_a_traceback(
        daemon: tuple[subprocess.Popen[str], Path]) -> None:
    proc, config = daemon
    root = config.parent
    _immutable(root, True)  # the files stay writable, the directory does not (as root, modes would not stop us)
    try:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        _immutable(root, False)
    log = _log(root)
    assert "Traceback" not in log, log
    assert code == 0, log
    events = {e["event"]: e for e in map(json.loads, log.splitlines()) if e.get("level") in ("warning", "error")}
    for event, name in (("cannot remove pid file", "balancerd.pid"), ("cannot remove control socket", "control.sock")):
        assert name in str(events[event]) and "Operation not permitted" in str(events[event]), events
    assert json.loads(log.splitlines()[-1])["event"] == "stopped"
    left = _run("balancerctl", "--config", str(config), "status")  # the pid file stayed; nobody holds its lock
    assert left.returncode == 3 and "not running" in left.stdout + left.stderr, left
