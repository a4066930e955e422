"""The daemon's signals, taken by its main loop instead of acted on inside a signal handler.

The daemon (:mod:`balancerd.service.daemon`) is the only caller. CPython runs a signal handler in the main
thread between two bytecodes, also while that thread holds a lock: the condition of the ``Event`` it waits on,
the scheduler's. A handler that sets such an ``Event`` or asks the scheduler for a cycle can then wait forever
for a lock its own thread holds; this once left a SIGTERM unanswered (no STOPPING=1, no exit) while the watchdog
thread went on pinging. So the handlers installed here do nothing: :func:`signal.set_wakeup_fd` writes the
number of every signal that arrives to a socket, and :meth:`SignalInbox.wait` reads them where the main loop
holds no lock. Signals that arrive while the loop acts are kept in the socket for the next wait.
"""

from __future__ import annotations

import select
import signal
import socket
from collections.abc import Iterable
from types import FrameType
from typing import Any

_READ_BYTES = 4096


def _take(signum: int, frame: FrameType | None) -> None:
    """Installed for every signal of the inbox so that its default action (often: exit) does not happen."""


class SignalInbox:
    """Signals queued for the main thread; open it from the main thread (Python's rule for handlers)."""

    def __init__(self, signums: Iterable[int]) -> None:
        self._signums = tuple(signums)
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1

    def open(self) -> None:
        """Install the handlers and the wakeup socket; a second call does nothing."""
        if self._sockets is not None:
            return
        reader, writer = socket.socketpair()
        for end in (reader, writer):
            end.setblocking(False)
        self._sockets = (reader, writer)
        self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._previous = {signum: signal.signal(signum, _take) for signum in self._signums}

    def wait(self, timeout_s: float) -> frozenset[int]:
        """The signals that arrived since the last call, waiting up to ``timeout_s`` for the first one."""
        if self._sockets is None:
            raise RuntimeError("SignalInbox.wait before open()")
        reader = self._sockets[0]
        readable, _, _ = select.select([reader], [], [], timeout_s)
        if not readable:
            return frozenset()
        try:
            data = reader.recv(_READ_BYTES)
        except BlockingIOError:
            return frozenset()
        return frozenset(signum for signum in data if signum in self._signums)

    def close(self) -> None:
        """Put back the handlers and wakeup fd found at :meth:`open`; nothing if it was never opened."""
        if self._sockets is None:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        for end in self._sockets:
            end.close()
        self._sockets = None
        self._previous = {}
