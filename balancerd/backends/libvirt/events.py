"""The event-loop thread the libvirt backend needs for connection keepalive.

Called by ``backends.libvirt.cluster``, which hands in libvirt's ``virEventRegisterDefaultImpl`` (once per process,
before the first connection), ``virEventRunDefaultImpl`` (one iteration) and a way to wake the loop. One
daemon thread runs the loop while at least one ``LibvirtCluster`` is open; the last ``close`` stops it.
No libvirt import here, so the reference counting is testable with plain callables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class EventLoop:
    """Reference-counted owner of the event thread."""

    def __init__(self, register: Callable[[], None], run_once: Callable[[], int],
                 wake: Callable[[], None]) -> None:
        self._register = register
        self._run_once = run_once
        self._wake = wake
        self._lock = threading.Lock()
        self._users = 0
        self._registered = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def acquire(self) -> None:
        """One more user: register the implementation once, start the thread if it is not running."""
        with self._lock:
            if not self._registered:
                self._register()
                self._registered = True
            self._users += 1
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,), daemon=True,
                                                name="libvirt-events")
                self._thread.start()

    def release(self, join_timeout_s: float = 2.0) -> None:
        """One user fewer: the last one stops the thread (wakes the loop so it sees the stop flag)."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users or self._thread is None:
                return
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wake()
        thread.join(join_timeout_s)

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self._run_once() < 0:
                return
