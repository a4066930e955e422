"""sd_notify end to end: `balancerd run` on the simulated cluster, NOTIFY_SOCKET a real AF_UNIX datagram socket.

Checks READY=1 only after the first successful cycle (the status file exists by then), WATCHDOG=1 pings at
half the WATCHDOG_USEC period, RELOADING=1 with MONOTONIC_USEC then READY=1 on SIGHUP, pings stopping while a
cycle hangs and resuming after, and STOPPING=1 on SIGTERM. The hang needs no test hook in the daemon: the
test holds a write transaction on the daemon's journal, so the next cycle waits in SQLite's busy timeout (5 s)
to record its plan. (It used to replace the maintenance file by a named pipe; since issue 19 only regular
files are read, without blocking.)
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.processes import stop

CONFIG = """
mode = "enforce"
interval_s = 60.0
backend = "sim"
[sim]
hosts = 3
vms = 12
speed = 300.0
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
enabled = false
[logging]
format = "json"
"""

BIN = Path(sys.executable).parent
WATCHDOG_S = 1.0


class Listener:
    """The service manager's end: collects (monotonic time, lines) for every datagram."""

    def __init__(self) -> None:
        self.name = f"balancerd-notify-test-{os.getpid()}-{time.monotonic_ns()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, list[str]]] = []

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode().split("\n")))

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float, what: str,
                 start: int | None = None) -> int:
        """Index of the first message from ``start`` (default: from now on) matching ``predicate``."""
        first = len(self.messages) if start is None else start
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(first, len(self.messages)):
                if predicate(self.messages[index][1]):
                    return index
            self.pump(0.1)
        raise AssertionError(f"no {what} within {timeout} s; got {self.messages[first:][:20]}")

    def pings_between(self, start: float, end: float) -> int:
        return sum(1 for at, lines in self.messages if start <= at <= end and lines == ["WATCHDOG=1"])


@pytest.fixture
def listener() -> Iterator[Listener]:
    sock = Listener()
    try:
        yield sock
    finally:
        sock.sock.close()


def test_notify_protocol(tmp_path: Path, listener: Listener) -> None:
    config = tmp_path / "balancerd.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "NOTIFY_SOCKET": "@" + listener.name, "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}
    env.pop("WATCHDOG_PID", None)
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        listener.wait_for(lambda lines: "READY=1" in lines, 60, "READY=1")
        assert (tmp_path / "status.json").exists(), "READY=1 before the first cycle ended"
        ready = next(lines for _, lines in listener.messages if "READY=1" in lines)
        locker = sqlite3.connect(tmp_path / "journal.sqlite", isolation_level=None, timeout=30)
        assert any(line.startswith("STATUS=cycle 1:") for line in ready), ready

        t0 = time.monotonic()
        listener.pump(2.0)
        assert listener.pings_between(t0, time.monotonic()) >= 3, "pings every WATCHDOG_USEC / 2"

        proc.send_signal(signal.SIGHUP)
        reloading = listener.wait_for(lambda lines: lines[0] == "RELOADING=1"
                                      and lines[1].startswith("MONOTONIC_USEC="), 10, "RELOADING=1 + MONOTONIC_USEC")
        listener.wait_for(lambda lines: lines == ["READY=1"], 10, "READY=1 after the reload", start=reloading + 1)

        locker.execute("BEGIN IMMEDIATE")  # the next cycle's record_plan waits for it (busy timeout 5 s)
        hang_from = time.monotonic()
        listener.pump(3 * WATCHDOG_S + 1.0)
        quiet_from = hang_from + WATCHDOG_S + 1.0  # the cycle starts within 0.2 s; the last ping within timeout
        assert listener.pings_between(quiet_from, time.monotonic()) == 0, "pings went on while a cycle hung"
        assert proc.poll() is None

        locker.execute("ROLLBACK")
        locker.close()
        listener.wait_for(lambda lines: lines == ["WATCHDOG=1"], 5, "pings to resume after the hang")

        proc.send_signal(signal.SIGTERM)
        listener.wait_for(lambda lines: lines == ["STOPPING=1"], 10, "STOPPING=1")
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)
        log.close()
    text = (tmp_path / "daemon.log").read_text()
    assert "cycle hangs: watchdog pings stopped" in text
