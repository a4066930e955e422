"""The daemon acts on a signal in its main loop, never inside the handler (issue: a SIGTERM once went unanswered).

A handler runs in the main thread between two bytecodes, also while that thread holds a lock; one that set an
``Event`` could wait forever on the lock its own thread held. Here a signal raised in the main thread changes
nothing until the loop's step takes it, and each signal does what the daemon's docstring says.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd import config as config_mod
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.service.daemon import Daemon

WAIT_S = 10.0  # a bound only: the inbox's byte is written before raise_signal returns


@pytest.fixture()
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    table: dict[str, object] = {
        "interval_s": 60.0,
        "paths": {"maintenance_file": "maintenance", "journal": "journal.sqlite", "pid_file": "p.pid",
                  "status_file": "status.json"},
        "control": {"socket": "control.sock", "pause_file": "pause", "pause_state": "paused.json"},
        "metrics": {"enabled": False},
    }
    clock = FakeClock(1_000.0)
    backend = SimCluster([SimHost("h1", 8, 32768)], [SimVm("a", "h1", 2, 4096, 20.0)], clock)
    made = Daemon(config_mod.from_table(table, tmp_path), clock, backend)
    made._signals.open()
    try:
        yield made
    finally:
        made._signals.close()
        made.journal.close()


def _calls(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(daemon, "reload", lambda: calls.append("reload"))
    monkeypatch.setattr(daemon, "run_cycle_now", lambda: calls.append("cycle now"))
    return calls


def _step(daemon: Daemon) -> None:
    daemon._on_signals(daemon._signals.wait(WAIT_S))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_only_when_the_loop_takes_it(daemon: Daemon, signum: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(daemon, monkeypatch)
    signal.raise_signal(signum)
    assert not daemon.stop_event.is_set(), "the handler acted: it may run while this thread holds a lock"
    _step(daemon)
    assert daemon.stop_event.is_set() and calls == []


@pytest.mark.parametrize(("signum", "expected"), [(signal.SIGHUP, ["reload"]), (signal.SIGUSR1, ["cycle now"])])
def test_reload_and_cycle_now_run_in_the_loop(daemon: Daemon, signum: int, expected: list[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(daemon, monkeypatch)
    signal.raise_signal(signum)
    assert calls == []
    _step(daemon)
    assert calls == expected and not daemon.stop_event.is_set()


def test_a_stop_beside_a_reload_only_stops(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(daemon, monkeypatch)
    signal.raise_signal(signal.SIGHUP)
    signal.raise_signal(signal.SIGTERM)
    _step(daemon)
    assert daemon.stop_event.is_set() and calls == []
