"""One connection per host: opened in parallel with a timeout, re-opened with exponential back-off.

Called by ``backends.libvirt.cluster``, which supplies the functions that open, close and probe a libvirt
connection; this module knows nothing of libvirt itself, so its timing rules are unit-tested with fakes
and a FakeClock. Rules: at most one open attempt per host at a time (runs in a daemon thread, so a host
that never answers cannot block a caller for longer than ``connect_timeout_s``); after a failed attempt the
host is not tried again until its back-off (``base * 2**(failures-1)``, capped) has passed, and every call
meanwhile raises :class:`TransientBackendError` at once; a connection that died is dropped and re-opened
on the next call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from balancerd.clock import Clock
from balancerd.errors import TransientBackendError

Opener = Callable[[str], Any]
Closer = Callable[[Any], None]
Prober = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class ConnectionHooks:
    """How to open, close and probe one connection (libvirt's, or a fake's in tests)."""

    open: Opener
    close: Closer
    alive: Prober


class _Attempt:
    """One open attempt running in its own daemon thread."""

    def __init__(self, uri: str, hooks: ConnectionHooks) -> None:
        self.done = threading.Event()
        self.conn: Any = None
        self.error: BaseException | None = None
        self._hooks = hooks
        self._lock = threading.Lock()
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, args=(uri,), daemon=True, name=f"libvirt-open {uri}")
        self._thread.start()

    def abandon(self) -> None:
        """The pool is closing: close the connection now or as soon as the attempt yields one."""
        with self._lock:
            self._abandoned = True
            conn, self.conn = self.conn, None
        if conn is not None:
            _close_quietly(self._hooks, conn)

    def _run(self, uri: str) -> None:
        try:
            conn = self._hooks.open(uri)
        except BaseException as exc:  # reported to the caller as TransientBackendError
            self.error = exc
            conn = None
        with self._lock:
            abandoned = self._abandoned
            if not abandoned:
                self.conn = conn
        if abandoned and conn is not None:
            _close_quietly(self._hooks, conn)
        self.done.set()


@dataclass
class _Link:
    """The connection state of one host."""

    name: str
    uri: str
    conn: Any = None
    attempt: _Attempt | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class ConnectionPool:
    """Connections to a fixed set of hosts, by name."""

    def __init__(self, uris: Mapping[str, str], hooks: ConnectionHooks, clock: Clock, *,
                 connect_timeout_s: float = 5.0, backoff_base_s: float = 1.0,
                 backoff_max_s: float = 60.0) -> None:
        self._links = {name: _Link(name, uri) for name, uri in uris.items()}
        self._hooks = hooks
        self._clock = clock
        self._timeout = connect_timeout_s
        self._base = backoff_base_s
        self._max = backoff_max_s
        self._closed = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._links)

    def get(self, host: str) -> Any:
        """The open connection to ``host``; TransientBackendError when it cannot be had now."""
        return self._wait(self._begin(host), self._timeout)

    def get_many(self, hosts: Iterable[str]) -> dict[str, Any | TransientBackendError]:
        """Connections to ``hosts``, opened in parallel; a host that fails maps to its error."""
        links = [self._begin_or_error(host) for host in hosts]
        deadline = time.monotonic() + self._timeout
        return {name: self._wait_or_error(link, max(0.0, deadline - time.monotonic())) for name, link in links}

    def drop(self, host: str, reason: str) -> None:
        """Forget a connection that failed; the next call re-opens it (after back-off if that fails)."""
        link = self._link(host)
        with link.lock:
            conn, link.conn = link.conn, None
            link.last_error = reason
        if conn is not None:
            self._safe_close(conn)

    def abandon(self, host: str, reason: str) -> None:
        """Like :meth:`drop` for a connection whose daemon hangs: closing it may block, so a thread does it."""
        link = self._link(host)
        with link.lock:
            conn, link.conn = link.conn, None
            link.last_error = reason
        if conn is not None:
            threading.Thread(target=self._safe_close, args=(conn,), name=f"close-{host}", daemon=True).start()

    def is_connected(self, host: str) -> bool:
        """True when ``host`` has an open, live connection right now (no attempt is made)."""
        link = self._link(host)
        with link.lock:
            return link.conn is not None and self._alive(link.conn)

    def last_error(self, host: str) -> str:
        return self._link(host).last_error

    def close(self) -> None:
        """Close every connection; attempts still running close theirs when they finish."""
        self._closed = True
        for link in self._links.values():
            with link.lock:
                conn, link.conn = link.conn, None
                attempt, link.attempt = link.attempt, None
            if conn is not None:
                self._safe_close(conn)
            if attempt is not None:
                attempt.abandon()

    def _link(self, host: str) -> _Link:
        try:
            return self._links[host]
        except KeyError:
            raise TransientBackendError(f"unknown host {host!r}") from None

    def _begin_or_error(self, host: str) -> tuple[str, _Link | TransientBackendError]:
        try:
            return host, self._begin(host)
        except TransientBackendError as exc:
            return host, exc

    def _wait_or_error(self, link: _Link | TransientBackendError, timeout: float) -> Any:
        if isinstance(link, TransientBackendError):
            return link
        try:
            return self._wait(link, timeout)
        except TransientBackendError as exc:
            return exc

    def _begin(self, host: str) -> _Link:
        """Make sure ``host`` has a connection or an attempt under way (or raise while backing off)."""
        link = self._link(host)
        if self._closed:
            raise TransientBackendError(f"host {host}: the backend is closed")
        with link.lock:
            if link.conn is not None and not self._alive(link.conn):
                self._safe_close(link.conn)
                link.conn, link.last_error = None, "connection lost"
            if link.conn is None and link.attempt is None:
                self._start_attempt(link)
        return link

    def _start_attempt(self, link: _Link) -> None:
        now = self._clock.now()
        if link.failures and now < link.retry_at:
            wait = link.retry_at - now
            raise TransientBackendError(
                f"host {link.name} ({link.uri}) is unreachable: {link.last_error}; next attempt in {wait:.1f} s")
        link.attempt = _Attempt(link.uri, self._hooks)

    def _wait(self, link: _Link, timeout: float) -> Any:
        attempt = link.attempt
        if attempt is not None:
            attempt.done.wait(timeout)
        with link.lock:
            if link.conn is None and link.attempt is not None:
                self._settle(link)
            if link.conn is not None:
                return link.conn
            raise TransientBackendError(f"host {link.name} ({link.uri}) is unreachable: {link.last_error}")

    def _settle(self, link: _Link) -> None:
        """Take the result of a finished attempt (or note that it is still running)."""
        attempt = link.attempt
        assert attempt is not None
        if not attempt.done.is_set():
            link.last_error = f"no answer within {self._timeout:g} s"
            return
        link.attempt = None
        if attempt.error is None and attempt.conn is not None:
            link.conn, link.failures, link.last_error = attempt.conn, 0, ""
            return
        link.failures += 1
        delay = min(self._max, self._base * 2 ** (link.failures - 1))
        link.retry_at = self._clock.now() + delay
        link.last_error = str(attempt.error) or type(attempt.error).__name__

    def _alive(self, conn: Any) -> bool:
        try:
            return self._hooks.alive(conn)
        except Exception:
            return False

    def _safe_close(self, conn: Any) -> None:
        _close_quietly(self._hooks, conn)


def _close_quietly(hooks: ConnectionHooks, conn: Any) -> None:
    try:
        hooks.close(conn)
    except Exception:  # closing a dead connection may fail; nothing is left to release
        return
