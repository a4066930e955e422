"""Migration jobs of the libvirt backend: one worker thread per running migration, the last result per VM.

Called by ``backends.libvirt.cluster``: ``start_migration`` registers a :class:`MigrationJob` whose worker runs the
blocking libvirt call, ``job_stats`` reads a job's final :class:`JobStats` once the worker has set it, and
``abort`` uses :func:`call_with_timeout` because ``abortJob`` has been seen to block until the migration
ended (lab notes, pitfall 13). No libvirt here: the worker is a callable handed in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from balancerd.backends.base import JobState, JobStats, MigrationRequest
from balancerd.errors import PermanentBackendError


class MigrationJob:
    """One migration: its request, source domain handle, worker thread and final result."""

    def __init__(self, request: MigrationRequest, started_at: float, source_domain: Any,
                 work: Callable[[MigrationJob], JobStats]) -> None:
        self.request = request
        self.started_at = started_at
        self.source_domain = source_domain
        self.abort_requested = threading.Event()
        self._work = work
        self._final: JobStats | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"migrate {request.vm}")

    def start(self) -> None:
        self._thread.start()

    @property
    def final(self) -> JobStats | None:
        """The job's final stats once the worker has ended, else None."""
        with self._lock:
            return self._final

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` (wall time) for the worker to end; True when it has."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            result = self._work(self)
        except Exception as exc:  # the worker maps libvirt errors itself; this is the last guard
            result = JobStats(self.request.vm, JobState.FAILED, error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._final = result


class JobTable:
    """The current or last migration job of every VM."""

    def __init__(self) -> None:
        self._jobs: dict[str, MigrationJob] = {}
        self._lock = threading.Lock()

    def get(self, vm: str) -> MigrationJob | None:
        with self._lock:
            return self._jobs.get(vm)

    def running(self, vm: str) -> MigrationJob | None:
        """The VM's job while its worker has not ended, else None."""
        job = self.get(vm)
        return job if job is not None and job.final is None else None

    def incoming(self, host: str) -> frozenset[str]:
        """Names of the VMs with a running migration into ``host``."""
        with self._lock:
            jobs = list(self._jobs.values())
        return frozenset(j.request.vm for j in jobs if j.request.dest == host and j.final is None)

    def add(self, job: MigrationJob) -> None:
        """Register ``job``; PermanentBackendError when the VM is already migrating."""
        vm = job.request.vm
        with self._lock:
            current = self._jobs.get(vm)
            if current is not None and current.final is None:
                raise PermanentBackendError(
                    f"VM {vm}: a migration {current.request.source} -> {current.request.dest} is already running")
            self._jobs[vm] = job

    def discard(self, job: MigrationJob) -> None:
        """Forget ``job`` (it never started)."""
        with self._lock:
            if self._jobs.get(job.request.vm) is job:
                del self._jobs[job.request.vm]


def call_with_timeout(fn: Callable[[], object], timeout_s: float) -> tuple[bool, BaseException | None]:
    """Run ``fn`` in a daemon thread; (finished in time, the exception it raised or None)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # handed back to the caller
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True, name="libvirt-call")
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive() or not outcome:
        return False, None
    return True, outcome[0]
