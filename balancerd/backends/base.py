"""The Hypervisor protocol: the one seam between balancerd and the machines it balances.

The collector reads inventory and counters through it, the executor starts, watches and aborts migrations
through it, and the journal's reconciliation asks it where a VM is defined. Two implementations exist:
``backends.libvirt`` (real libvirt daemons) and ``backends.sim`` (a simulated cluster for tests, the demo,
``balancerd simulate`` and benchmarks). Both raise only :class:`TransientBackendError` and
:class:`PermanentBackendError` (from ``balancerd.errors``).

Migrations are asynchronous: :meth:`Hypervisor.start_migration` returns as soon as the move is under way
and :meth:`Hypervisor.job_stats` reports its progress until a final state, which it keeps reporting until
the next migration of that VM starts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from balancerd.model import MoveKind


@dataclass(frozen=True, slots=True)
class HostInfo:
    """Inventory of one host: logical CPUs and memory, and whether it answered."""

    name: str
    cpus: int
    memory_mib: int
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class NodeStats:
    """Counters of one host at time ``at``: cumulative busy CPU time over all CPUs, memory in MiB."""

    host: str
    at: float
    cpu_time_ns: int
    memory_total_mib: int
    memory_free_mib: int


@dataclass(frozen=True, slots=True)
class DomainStats:
    """One domain's counters at time ``at`` (a row of the bulk stats call).

    ``cpu_time_ns`` is cumulative; rates are the collector's business. ``memory_used_mib`` is what the
    guest uses (balloon available - unused, or the QEMU RSS, or the allocation when nothing better exists).
    """

    name: str
    host: str
    at: float
    running: bool
    vcpus: int
    memory_mib: int
    cpu_time_ns: int
    memory_used_mib: int
    dirty_rate_mib_s: int = 0
    live_migratable: bool = True
    persistent: bool = True


class JobState(enum.StrEnum):
    """State of the last migration job of a VM."""

    NONE = "none"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.ABORTED)


@dataclass(frozen=True, slots=True)
class MigrationRequest:
    """Everything a backend needs to start one migration."""

    vm: str
    source: str
    dest: str
    kind: MoveKind = MoveKind.LIVE
    bandwidth_mib_s: int = 0
    max_downtime_ms: int = 300


@dataclass(frozen=True, slots=True)
class JobStats:
    """Progress of a VM's migration job; byte counts of memory (and disks) transferred."""

    vm: str
    state: JobState
    elapsed_ms: int = 0
    data_total: int = 0
    data_processed: int = 0
    data_remaining: int = 0
    dirty_rate_mib_s: int = 0
    downtime_ms: int | None = None
    error: str = ""


@runtime_checkable
class Hypervisor(Protocol):
    """What balancerd needs from a cluster of hypervisors."""

    def hosts(self) -> tuple[HostInfo, ...]:
        """Every configured host, reachable or not."""
        ...

    def node_stats(self, host: str) -> NodeStats:
        """Counters of ``host``; TransientBackendError when it does not answer."""
        ...

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        """Counters of every domain defined on ``host`` (one bulk call)."""
        ...

    def start_migration(self, request: MigrationRequest) -> None:
        """Start moving a VM; returns once the job is under way."""
        ...

    def job_stats(self, vm: str) -> JobStats:
        """Progress of the VM's current or last migration (state NONE if there was none)."""
        ...

    def abort(self, vm: str) -> None:
        """Abort the VM's running migration; the VM keeps running on its source."""
        ...

    def locate(self, vm: str) -> tuple[str, ...]:
        """Names of the reachable hosts on which ``vm`` is defined (for reconciliation)."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...
