"""service.notify: sd_notify datagrams on a real socket, watchdog timeout parsing, cycle health, pinger."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.clock import FakeClock
from balancerd.service.notify import CycleWatch, Notifier, ProgressClock, WatchdogPinger, watchdog_timeout_s


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    try:
        yield sock, path
    finally:
        sock.close()


def _recv(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_messages_reach_a_path_socket(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("cycle 1")
    assert _recv(sock) == ["READY=1", "STATUS=cycle 1"]
    assert notifier.watchdog() and _recv(sock) == ["WATCHDOG=1"]
    assert notifier.stopping() and _recv(sock) == ["STOPPING=1"]


def test_reloading_carries_the_monotonic_time(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert Notifier(path).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    reloading, stamp = _recv(sock)
    assert reloading == "RELOADING=1"
    assert stamp.startswith("MONOTONIC_USEC=") and before <= int(stamp.split("=")[1]) <= after


def test_abstract_socket_address() -> None:
    name = f"balancerd-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier("@" + name).ready()
        assert _recv(sock) == ["READY=1"]


def test_no_socket_means_no_op_and_a_dead_socket_is_not_fatal(tmp_path: Path) -> None:
    assert not Notifier.from_env({}).enabled
    assert not Notifier.from_env({}).ready()
    assert not Notifier(str(tmp_path / "nobody-listens")).watchdog()


@pytest.mark.parametrize(("env", "expected"), [
    ({"WATCHDOG_USEC": "30000000"}, 30.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 2.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_watchdog_timeout(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_timeout_s(env) == expected


def test_running_cycle_is_healthy_while_it_progresses() -> None:
    clock = FakeClock(0.0)
    watch = CycleWatch(10.0, clock.now)
    watch.started()
    clock.advance(9)
    assert watch.healthy(60)
    watch.progress()
    clock.advance(9)
    assert watch.healthy(60)
    clock.advance(2)
    assert not watch.healthy(60), "11 s without progress is longer than the 10 s watchdog"
    watch.progress()
    assert watch.healthy(60)


def test_idle_daemon_is_healthy_until_cycles_stop_starting() -> None:
    clock = FakeClock(0.0)
    watch = CycleWatch(10.0, clock.now)
    clock.advance(1000)
    assert watch.healthy(60), "before the first cycle"
    watch.started()
    watch.finished()
    clock.advance(69)
    assert watch.healthy(60)
    clock.advance(2)
    assert not watch.healthy(60), "no cycle started for interval + watchdog"


def test_progress_clock_reports_each_use() -> None:
    inner = FakeClock(100.0)
    uses: list[float] = []
    clock = ProgressClock(inner, lambda: uses.append(inner.now()))
    assert clock.now() == 100.0
    clock.sleep(5)
    assert uses == [100.0, 100.0, 105.0]
    assert inner.now() == 105.0


def test_pinger_pings_only_when_healthy(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    healthy = [True]
    pinger = WatchdogPinger(Notifier(path), 2.0, lambda: healthy[0])
    assert pinger.tick()
    assert _recv(sock) == ["WATCHDOG=1"]
    healthy[0] = False
    assert not pinger.tick()
    sock.settimeout(0.05)
    with pytest.raises(TimeoutError):
        sock.recv(4096)


def test_pinger_thread_starts_and_stops(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    pinger = WatchdogPinger(Notifier(path), 60.0, lambda: True)
    pinger.start()
    try:
        assert _recv(sock) == ["WATCHDOG=1"]
    finally:
        pinger.stop()
