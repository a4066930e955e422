"""Unit tests of balancerd.backends.libvirt.pool with fake connections and a FakeClock."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest

from balancerd.backends.libvirt.pool import ConnectionHooks, ConnectionPool
from balancerd.clock import FakeClock
from balancerd.errors import TransientBackendError


class FakeConn:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.alive = True
        self.closed = False


WAIT_S = 30.0
"""How long a hook waits for an event the test sets: only a broken pool makes a test wait that long."""


class Hooks:
    """Records every open; URIs in ``failing`` raise, URIs in ``blocking`` wait for ``release``.

    ``returned`` holds the URIs whose open has returned; ``closed`` is set when a connection is closed; with
    ``rendezvous`` set, the opens of a and b each wait until the other has begun (they must run in parallel).
    """

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.returned: list[str] = []
        self.failing: set[str] = set()
        self.blocking: set[str] = set()
        self.release = threading.Event()
        self.closed = threading.Event()
        self.rendezvous: threading.Barrier | None = None
        self.conns: list[FakeConn] = []

    def open(self, uri: str) -> FakeConn:
        self.opened.append(uri)
        try:
            if self.rendezvous is not None:
                self.rendezvous.wait(WAIT_S)
            if uri in self.blocking:
                self.release.wait(WAIT_S)
            if uri in self.failing:
                raise OSError(f"cannot reach {uri}")
            conn = FakeConn(uri)
            self.conns.append(conn)
            return conn
        finally:
            self.returned.append(uri)

    def close(self, conn: Any) -> None:
        conn.closed = True
        self.closed.set()

    def hooks(self) -> ConnectionHooks:
        return ConnectionHooks(open=self.open, close=self.close, alive=lambda c: c.alive)


def make(hooks: Hooks, clock: FakeClock, timeout: float = 2.0) -> ConnectionPool:
    return ConnectionPool({"a": "uri-a", "b": "uri-b"}, hooks.hooks(), clock, connect_timeout_s=timeout,
                          backoff_base_s=1.0, backoff_max_s=4.0)


def test_get_opens_once_and_reuses() -> None:
    hooks = Hooks()
    pool = make(hooks, FakeClock())
    first = pool.get("a")
    assert pool.get("a") is first
    assert hooks.opened == ["uri-a"]
    assert pool.is_connected("a") and not pool.is_connected("b")


def test_failed_open_backs_off_exponentially_up_to_the_cap() -> None:
    hooks, clock = Hooks(), FakeClock()
    hooks.failing.add("uri-a")
    pool = make(hooks, clock)
    delays = []
    for _ in range(5):
        with pytest.raises(TransientBackendError, match="cannot reach uri-a"):
            pool.get("a")
        calls = len(hooks.opened)
        with pytest.raises(TransientBackendError, match="next attempt in"):
            pool.get("a")
        assert len(hooks.opened) == calls  # no attempt while backing off
        waited = 0.0
        while len(hooks.opened) == calls and waited < 100:
            clock.advance(0.5)
            waited += 0.5
            with contextlib.suppress(TransientBackendError):
                pool.get("a")
        delays.append(waited)
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert max(delays) == 4.0


def test_recovery_resets_back_off() -> None:
    hooks, clock = Hooks(), FakeClock()
    hooks.failing.add("uri-a")
    pool = make(hooks, clock)
    with pytest.raises(TransientBackendError):
        pool.get("a")
    hooks.failing.clear()
    clock.advance(1.0)
    assert pool.get("a").uri == "uri-a"
    assert pool.last_error("a") == ""


def test_dead_connection_is_closed_and_reopened() -> None:
    hooks = Hooks()
    pool = make(hooks, FakeClock())
    first = pool.get("a")
    first.alive = False
    second = pool.get("a")
    assert second is not first and first.closed


def test_drop_forces_a_reopen() -> None:
    hooks = Hooks()
    pool = make(hooks, FakeClock())
    first = pool.get("a")
    pool.drop("a", "RPC failed")
    assert first.closed
    assert pool.get("a") is not first


def test_get_many_opens_in_parallel() -> None:
    hooks = Hooks()
    hooks.rendezvous = threading.Barrier(2)  # a sequential pool would open a, wait for b, and break it
    pool = make(hooks, FakeClock(), timeout=WAIT_S)
    result = pool.get_many(["a", "b"])
    assert isinstance(result["a"], FakeConn) and isinstance(result["b"], FakeConn)
    assert sorted(hooks.opened) == ["uri-a", "uri-b"]
    pool.close()


def test_get_many_bounds_the_wait_by_the_connect_timeout() -> None:
    hooks = Hooks()
    hooks.blocking.add("uri-b")
    pool = make(hooks, FakeClock(), timeout=0.2)
    result = pool.get_many(["b"])
    assert "uri-b" not in hooks.returned  # get_many came back while the open was still blocked
    assert isinstance(result["b"], TransientBackendError)
    assert "no answer within 0.2 s" in str(result["b"])
    with pytest.raises(TransientBackendError):
        pool.get("b")  # still the same attempt, not a second one
    assert hooks.opened.count("uri-b") == 1
    hooks.release.set()
    pool.close()


def test_late_connection_after_close_is_closed() -> None:
    hooks = Hooks()
    hooks.blocking.add("uri-b")
    pool = make(hooks, FakeClock(), timeout=0.05)
    assert isinstance(pool.get_many(["b"])["b"], TransientBackendError)
    pool.close()
    hooks.release.set()
    assert hooks.closed.wait(WAIT_S)
    assert hooks.conns and hooks.conns[0].closed


def test_close_closes_and_refuses() -> None:
    hooks = Hooks()
    pool = make(hooks, FakeClock())
    conn = pool.get("a")
    pool.close()
    assert conn.closed
    with pytest.raises(TransientBackendError, match="closed"):
        pool.get("a")


def test_unknown_host() -> None:
    pool = make(Hooks(), FakeClock())
    with pytest.raises(TransientBackendError, match="unknown host"):
        pool.get("zzz")
