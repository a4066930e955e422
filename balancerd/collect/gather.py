"""Asking every host at once, each with a deadline for its whole collection.

:class:`~balancerd.collect.snapshot.Collector` hands :class:`Gatherer` the hosts to ask and a function that
asks one host (inventory, node counters, domain counters). A bounded set of daemon threads works through
the hosts; a host that has not answered ``timeout_s`` after its worker began is given up for this cycle:
the caller is told (``on_abandon``, which closes its connection so the next call opens a new one), a new
worker replaces the stuck one, and the stuck thread is left to end on its own. Until it does, later cycles
report that host as still stuck instead of asking it again, so a hung daemon never holds up a cycle and
never collects a pile of threads. The threads are daemon threads: one stuck in a libvirt call cannot keep
the process from exiting. Deadlines are wall-clock time: they bound how long a cycle waits.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from balancerd.errors import BackendError, TransientBackendError

_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Missed:
    """A host that gave nothing this cycle, and why."""

    reason: str


@dataclass(slots=True)
class _Job(Generic[_R]):
    host: str
    started: float
    done: bool = False
    abandoned: bool = False
    result: _R | BackendError | None = field(default=None)


class Gatherer(Generic[_R]):
    """Runs ``fetch(host)`` for many hosts at once, ``workers`` at a time, ``timeout_s`` each."""

    def __init__(self, fetch: Callable[[str], _R], workers: int, timeout_s: float,
                 on_abandon: Callable[[str, str], None]) -> None:
        self._fetch = fetch
        self._workers = max(1, workers)
        self._timeout = timeout_s
        self._on_abandon = on_abandon
        self._cond = threading.Condition()
        self._stuck: dict[str, _Job[_R]] = {}

    def reconfigure(self, workers: int, timeout_s: float) -> None:
        self._workers, self._timeout = max(1, workers), timeout_s

    def gather(self, hosts: Sequence[str]) -> dict[str, _R | BackendError | Missed]:
        """Every host's result, error or miss; returns within about ``timeout_s`` per round of workers."""
        round_ = _Round[_R](deque(), {}, {})
        with self._cond:
            for host in hosts:
                stuck = self._still_stuck(host)
                if stuck is None:
                    round_.todo.append(host)
                else:
                    round_.results[host] = stuck
        for _ in range(min(self._workers, len(round_.todo))):
            self._spawn(round_)
        self._wait(round_, len(hosts))
        return round_.results

    def _still_stuck(self, host: str) -> Missed | None:
        job = self._stuck.get(host)
        if job is None:
            return None
        if job.done:
            del self._stuck[host]  # it came back; its late answer is stale, ask again
            return None
        since = time.monotonic() - job.started
        return Missed(f"still stuck in a collection that began {since:.0f} s ago")

    def _spawn(self, round_: _Round[_R]) -> None:
        threading.Thread(target=self._work, args=(round_,), name="collect", daemon=True).start()

    def _work(self, round_: _Round[_R]) -> None:
        while True:
            with self._cond:
                if not round_.todo:
                    return
                job = _Job[_R](round_.todo.popleft(), time.monotonic())
                round_.running[job.host] = job
            result = self._fetch_one(job.host)
            with self._cond:
                job.result, job.done = result, True
                if job.abandoned:
                    return  # a replacement took over this worker's place
                round_.results[job.host] = result
                del round_.running[job.host]
                self._cond.notify_all()

    def _fetch_one(self, host: str) -> _R | BackendError:
        try:
            return self._fetch(host)
        except BackendError as exc:
            return exc
        except Exception as exc:  # a bug in one host's collection must not end the cycle for all
            return TransientBackendError(f"host {host}: collection crashed: {type(exc).__name__}: {exc}")

    def _wait(self, round_: _Round[_R], total: int) -> None:
        reason = f"did not answer within {self._timeout:g} s"
        while True:
            with self._cond:
                if len(round_.results) >= total:
                    return
                overdue = self._overdue(round_)
                if not overdue:
                    self._cond.wait(self._next_deadline(round_))
                    continue
                self._abandon(round_, overdue, reason)
            for job in overdue:  # outside the lock: closing a connection is the backend's business
                self._on_abandon(job.host, reason)

    def _overdue(self, round_: _Round[_R]) -> list[_Job[_R]]:
        now = time.monotonic()
        return [job for job in round_.running.values() if now - job.started >= self._timeout]

    def _next_deadline(self, round_: _Round[_R]) -> float | None:
        if not round_.running:
            return None
        first = min(job.started for job in round_.running.values())
        return max(0.0, first + self._timeout - time.monotonic())

    def _abandon(self, round_: _Round[_R], jobs: list[_Job[_R]], reason: str) -> None:
        """Give up on ``jobs`` (lock held): their hosts miss this cycle, new workers take their places."""
        for job in jobs:
            job.abandoned = True
            del round_.running[job.host]
            round_.results[job.host] = Missed(reason)
            self._stuck[job.host] = job
            if round_.todo:
                self._spawn(round_)


@dataclass(slots=True)
class _Round(Generic[_R]):
    """One gather call: hosts not yet begun, jobs under way, results so far."""

    todo: deque[str]
    running: dict[str, _Job[_R]]
    results: dict[str, _R | BackendError | Missed]
