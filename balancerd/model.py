"""Value types that cross every stage boundary of the pipeline.

Everything the collector, predictor, optimizer, executor, journal and daemon hand to each other is one of
these frozen dataclasses. Units are integers: CPU in millicores (1000 = one core), memory in MiB, data in
bytes, durations in milliseconds where a field says ``_ms``. Timestamps are float seconds from the
injected :class:`~balancerd.clock.Clock`.

Nothing here does I/O; every module may import it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Resources:
    """A resource vector: CPU in millicores, memory in MiB."""

    cpu_m: int = 0
    mem_mib: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.mem_mib + other.mem_mib)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.mem_mib - other.mem_mib)

    def fits_in(self, capacity: Resources) -> bool:
        """True when every component is at most the one of ``capacity``."""
        return self.cpu_m <= capacity.cpu_m and self.mem_mib <= capacity.mem_mib

    def scaled(self, permille: int) -> Resources:
        """This vector times ``permille`` / 1000, rounded down."""
        return Resources(self.cpu_m * permille // 1000, self.mem_mib * permille // 1000)

    def max_with(self, other: Resources) -> Resources:
        return Resources(max(self.cpu_m, other.cpu_m), max(self.mem_mib, other.mem_mib))

    @staticmethod
    def total(items: Iterable[Resources]) -> Resources:
        cpu = mem = 0
        for item in items:
            cpu += item.cpu_m
            mem += item.mem_mib
        return Resources(cpu, mem)


ZERO = Resources()


class MoveKind(enum.StrEnum):
    """How a VM is moved (see the migration-kinds table in DESIGN.md)."""

    LIVE = "live"
    COLD = "cold"
    STORAGE = "storage"


class Outcome(enum.StrEnum):
    """How one move ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Host:
    """One hypervisor as seen by one collection.

    ``usage`` is the measured load: the sum of the host's VMs plus what the node reports beyond them.
    ``capacity`` is what may be used at all; the policy's headroom is applied by the optimizer.
    """

    name: str
    capacity: Resources
    usage: Resources = ZERO
    reachable: bool = True
    maintenance: bool = False


@dataclass(frozen=True, slots=True)
class Vm:
    """One domain: ``size`` is what it was given (vCPUs, memory), ``usage`` what it uses."""

    name: str
    host: str
    size: Resources
    usage: Resources
    running: bool = True
    live_migratable: bool = True
    dirty_rate_mib_s: int = 0


@dataclass(frozen=True, slots=True)
class InFlight:
    """A migration in progress: the VM counts on both hosts until it ends."""

    vm: str
    source: str
    dest: str


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything one collection saw, in one consistent value."""

    seq: int
    taken_at: float
    hosts: tuple[Host, ...]
    vms: tuple[Vm, ...]
    in_flight: tuple[InFlight, ...] = ()

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def vms_on(self, host: str) -> tuple[Vm, ...]:
        return tuple(vm for vm in self.vms if vm.host == host)


@dataclass(frozen=True, slots=True)
class VmForecast:
    """Predicted usage of one VM over the horizon: a point value and an upper quantile."""

    vm: str
    point: Resources
    upper: Resources


@dataclass(frozen=True, slots=True)
class Forecast:
    """Predicted usage of every VM the predictor knows, for ``horizon_s`` seconds ahead."""

    horizon_s: int
    vms: tuple[VmForecast, ...] = ()
    method: str = "last"

    def as_mapping(self) -> Mapping[str, VmForecast]:
        return {f.vm: f for f in self.vms}


@dataclass(frozen=True, slots=True)
class Move:
    """One step of a plan: move ``vm`` from ``source`` to ``dest``.

    ``gain`` is the expected improvement of the cluster score (higher is better) and ``reason`` says in
    words why the optimizer chose it.
    """

    vm: str
    source: str
    dest: str
    kind: MoveKind
    reason: str
    gain: float
    memory_mib: int


@dataclass(frozen=True, slots=True)
class Skip:
    """A VM that needed to move but could not, with every reason collected."""

    vm: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one cycle proposes, built on the snapshot numbered ``snapshot_seq``."""

    snapshot_seq: int
    created_at: float
    moves: tuple[Move, ...]
    score_before: float
    score_after: float
    strategy: str = "balance"
    skipped: tuple[Skip, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.moves


@dataclass(frozen=True, slots=True)
class MoveResult:
    """What happened to one move."""

    move: Move
    outcome: Outcome
    started_at: float
    finished_at: float
    detail: str = ""
    downtime_ms: int | None = None
    bytes_transferred: int = 0

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


@dataclass(frozen=True, slots=True)
class HostUtilisation:
    """Load / capacity of one host per resource, as fractions (1.0 = full)."""

    host: str
    cpu: float
    memory: float


@dataclass(frozen=True, slots=True)
class CycleReport:
    """Everything one cycle did: what observability exports and ``balancerctl status`` shows."""

    cycle: int
    mode: str
    started_at: float
    duration_s: float
    snapshot: ClusterSnapshot
    plan: Plan
    results: tuple[MoveResult, ...]
    utilisation: tuple[HostUtilisation, ...]
    imbalance: float
    drain_remaining: tuple[tuple[str, int], ...] = ()
    errors: tuple[str, ...] = ()
