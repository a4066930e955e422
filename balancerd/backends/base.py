"""The Hypervisor protocol: the one seam between balancerd and the machines it balances.

The collector reads inventory and counters through it, the executor starts, watches and aborts migrations
through it, and the journal's reconciliation asks it where a VM is defined. Two implementations exist:
``backends.libvirt`` (real libvirt daemons) and ``backends.sim`` (a simulated cluster for tests, the demo,
``balancerd simulate`` and benchmarks). Both raise only :class:`TransientBackendError` and
:class:`PermanentBackendError` (from ``balancerd.errors``).

Migrations are asynchronous: :meth:`Hypervisor.start_migration` returns as soon as the move is under way
and :meth:`Hypervisor.job_stats` reports its progress until a final state, which it keeps reporting until
the next migration of that VM starts. The executor asks :meth:`Hypervisor.preflight` before each move and
steers a running job with :meth:`Hypervisor.set_max_downtime` and :meth:`Hypervisor.start_postcopy`; the
daemon's reconciliation uses :meth:`Hypervisor.inspect`, :meth:`Hypervisor.resume` and
:meth:`Hypervisor.undefine`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from balancerd.model import Extra, MoveKind


@dataclass(frozen=True, slots=True)
class HostInfo:
    """Inventory of one host: logical CPUs and memory, and whether it answered."""

    name: str
    cpus: int
    memory_mib: int
    reachable: bool = True
    networks: frozenset[str] | None = None
    """Active networks and interfaces (bridges) a guest's NIC can name here; None = not known."""
    cpu_group: str = ""
    """The configured CPU group, else the host's CPU model; "" = not known."""
    cpu_models: frozenset[str] | None = None
    """Named CPU models a guest may use here; None = not known."""
    migration_problem: str = ""
    """Why the migration network does not reach this host ("" = it does, or it is not checked)."""
    extra: Extra = ()
    """Capacity of named resources (``Resources.extra``; storage pools as ``model.POOL_PREFIX`` names), sorted."""


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
    networks: frozenset[str] = frozenset()
    """The networks or bridges its NICs attach to."""
    cpu_mode: str = ""
    cpu_model: str = ""
    extra: Extra = ()
    """What it needs of named resources (its local disks per pool as ``model.POOL_PREFIX`` names), sorted."""


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
    auto_converge: bool = False
    auto_converge_initial_pct: int = 20
    auto_converge_increment_pct: int = 10
    postcopy: bool = False
    """Allow switching to post-copy (:meth:`Hypervisor.start_postcopy`) while the job runs."""
    network_map: tuple[tuple[str, str], ...] = ()
    """(source network or bridge, destination network or bridge) pairs applied to the destination XML."""
    copy_disks: tuple[str, ...] = ()
    """Disk targets (``vda``) copied with the VM (kind STORAGE); empty = every writable local disk."""
    shutdown_timeout_s: float = 0.0
    """Kind COLD on a running VM: shut it down (destroy after this many seconds), move, start it again.
    0 = refuse to cold-move a running VM."""


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
    iteration: int = 0
    """Pre-copy pass number (memory_iteration), 0 when unknown."""
    postcopy: bool = False
    """True once the job has switched to post-copy."""


class DomainState(enum.StrEnum):
    """Where a domain stands on one host (for reconciliation)."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTOFF = "shutoff"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Placement:
    """One host's copy of a VM: its state, whether it is defined persistently and has a job running."""

    host: str
    state: DomainState
    persistent: bool = True
    job_active: bool = False


@dataclass(frozen=True, slots=True)
class VmPolicy:
    """Per-VM overrides read from ``<balancerd:policy .../>``; None = use the configured default."""

    live: bool = True
    max_downtime_ms: int | None = None
    """The downtime the VM tolerates; a VM that tolerates less than the expected downtime is not moved live."""
    postcopy: bool | None = None
    auto_converge: bool | None = None
    bandwidth_mib_s: int | None = None
    cold: bool | None = None
    """May it be shut down and moved cold inside a maintenance window?"""


@dataclass(frozen=True, slots=True)
class Check:
    """One pre-flight check of a move: its name, whether it passed, and in words why."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MoveFacts:
    """What the backend found before a move (:meth:`Hypervisor.preflight`): facts and its own checks.

    ``local_disks`` are writable disks not on a shared path (they must be copied: kind STORAGE);
    ``dest_free_mib`` is the destination's memory capacity minus what its running domains are given.
    """

    vm: str
    running: bool
    memory_mib: int
    dirty_rate_mib_s: int
    policy: VmPolicy
    local_disks: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    dest_free_mib: int = 0
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """A storage pool of one host: capacity, allocation and what is available, in MiB."""

    host: str
    name: str
    path: str
    capacity_mib: int
    allocation_mib: int
    available_mib: int
    active: bool = True


@runtime_checkable
class Hypervisor(Protocol):
    """What balancerd needs from a cluster of hypervisors."""

    def hosts(self) -> tuple[HostInfo, ...]:
        """Every configured host, reachable or not."""
        ...

    def host_names(self) -> tuple[str, ...]:
        """The configured hosts' names, without asking any of them."""
        ...

    def host_info(self, host: str) -> HostInfo:
        """Inventory of one host (``reachable`` False when it does not answer)."""
        ...

    def reset_host(self, host: str, reason: str) -> None:
        """Give up on ``host``'s connection (a call on it hangs); the next call opens a new one. Never blocks."""
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

    def preflight(self, request: MigrationRequest) -> MoveFacts:
        """Facts about the VM and the destination, and the backend's checks (reachability on the migration
        network, CPU compatibility, networks and storage on the destination); raises only when the VM or
        source cannot be read at all."""
        ...

    def set_max_downtime(self, vm: str, downtime_ms: int) -> None:
        """Widen (or narrow) the allowed switch-over pause of the VM's running migration."""
        ...

    def start_postcopy(self, vm: str) -> None:
        """Switch the VM's running migration (started with ``postcopy=True``) to post-copy."""
        ...

    def start_disk_move(self, vm: str, host: str, disk: str, pool: str) -> None:
        """Move one disk of a running VM into another storage pool of the same host (copy + pivot);
        progress through :meth:`job_stats` like a migration."""
        ...

    def storage_pools(self, host: str) -> tuple[PoolInfo, ...]:
        """Storage pools of ``host`` with capacity and use (a resource the optimizer may see)."""
        ...

    def upload_volume(self, host: str, pool: str, name: str, source: Path, fmt: str, capacity: int,
                      progress: Callable[[int], None] | None = None) -> str:
        """A new volume ``name`` (format ``fmt``, ``capacity`` bytes) in ``pool`` on ``host`` holding the local
        file ``source``, streamed through the hypervisor (the host may be remote; ``progress`` gets each chunk's
        bytes); its path there. Refused when the pool has a volume of that name (``balancerd import``)."""
        ...

    def delete_volume(self, host: str, pool: str, name: str) -> None:
        """Remove volume ``name`` of ``pool`` on ``host``; nothing to do when there is none."""
        ...

    def define_domain(self, host: str, xml: str) -> str:
        """Define a new persistent domain on ``host``; its name. Refused when the name exists there."""
        ...

    def start_domain(self, vm: str, host: str) -> None:
        """Start the defined, inactive domain ``vm`` on ``host``."""
        ...

    def inspect(self, vm: str) -> tuple[Placement, ...]:
        """Every reachable host's copy of ``vm`` with its state (for reconciliation)."""
        ...

    def resume(self, vm: str, host: str) -> None:
        """Resume the VM paused on ``host``."""
        ...

    def undefine(self, vm: str, host: str) -> None:
        """Remove the inactive definition of ``vm`` on ``host`` (refused while it runs there)."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...
