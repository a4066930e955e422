"""systemd notification (sd_notify) and the watchdog's idea of a healthy daemon.

The daemon (:mod:`balancerd.service.daemon`) is the only caller. Under ``Type=notify`` systemd passes the path
of an AF_UNIX datagram socket in ``NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace) and, with
``WatchdogSec=``, the timeout in ``WATCHDOG_USEC`` (for the process in ``WATCHDOG_PID``, when set). The
protocol is newline-separated ``KEY=VALUE`` lines in one datagram; no library is needed. Without
``NOTIFY_SOCKET`` every call is a no-op, so the daemon runs the same outside systemd.

:class:`CycleWatch` decides whether watchdog pings may be sent: a cycle that shows no progress (no clock read,
no migration event) for longer than the watchdog timeout is hung, and so is a scheduler that stopped starting
cycles. :class:`ProgressClock` is the clock the cycle runner gets, so that every poll of a running migration
counts as progress.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

import structlog

from balancerd.clock import Clock

log = structlog.get_logger("balancerd.notify")

Monotonic = Callable[[], float]


class Notifier:
    """Sends state changes to the service manager, if there is one."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram; False (and a log line) if it could not be delivered."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(lines).encode(), target)
        except OSError as exc:
            log.warning("sd_notify failed", socket=self.address, error=str(exc))
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *_status(status))

    def reloading(self) -> bool:
        """RELOADING=1 with MONOTONIC_USEC, which systemd >= 253 requires and older versions ignore."""
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(*_status(text))


def _status(text: str) -> tuple[str, ...]:
    return (f"STATUS={text}",) if text else ()


def watchdog_timeout_s(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd asks for, or None when there is none for this process."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 1_000_000


class CycleWatch:
    """Tracks cycle progress; :meth:`healthy` says whether the watchdog may be fed."""

    def __init__(self, timeout_s: float, monotonic: Monotonic = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._now = monotonic
        self._lock = threading.Lock()
        self._running = False
        self._last_progress = monotonic()
        self._last_start: float | None = None

    def started(self) -> None:
        with self._lock:
            self._running = True
            self._last_start = self._last_progress = self._now()

    def progress(self) -> None:
        with self._lock:
            self._last_progress = self._now()

    def finished(self) -> None:
        with self._lock:
            self._running = False
            self._last_progress = self._now()

    def healthy(self, interval_s: float) -> bool:
        """No running cycle silent for longer than the timeout, and cycles still start every ``interval_s``."""
        with self._lock:
            now = self._now()
            if self._running:
                return now - self._last_progress <= self.timeout_s
            return self._last_start is None or now - self._last_start <= interval_s + self.timeout_s


class ProgressClock:
    """A :class:`Clock` that reports every use as progress of the running cycle."""

    def __init__(self, inner: Clock, on_use: Callable[[], None]) -> None:
        self.inner = inner
        self._on_use = on_use

    def now(self) -> float:
        self._on_use()
        return self.inner.now()

    def sleep(self, seconds: float) -> None:
        self._on_use()
        self.inner.sleep(seconds)
        self._on_use()


class WatchdogPinger:
    """A thread that sends WATCHDOG=1 every half timeout while ``healthy()`` says so."""

    def __init__(self, notifier: Notifier, timeout_s: float, healthy: Callable[[], bool]) -> None:
        self._notifier = notifier
        self._interval = timeout_s / 2
        self._healthy = healthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="watchdog", daemon=True)
        self._warned = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._interval)

    def tick(self) -> bool:
        """One ping if healthy; True when it was sent."""
        if self._healthy():
            self._warned = False
            return self._notifier.watchdog()
        if not self._warned:
            log.error("cycle hangs: watchdog pings stopped, systemd will restart balancerd")
            self._warned = True
        return False
