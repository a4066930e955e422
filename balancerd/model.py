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

Extra = tuple[tuple[str, int], ...]
"""Named resources beyond CPU and memory (e.g. ``(("disk_gib", 40), ("net_mbit", 100))``), sorted by name."""


def _merge_extra(a: Extra, b: Extra, sign: int) -> Extra:
    """``a + sign * b`` per name (names in either), sorted by name."""
    merged = dict(a)
    for name, amount in b:
        merged[name] = merged.get(name, 0) + sign * amount
    return tuple(sorted(merged.items()))


@dataclass(frozen=True, slots=True)
class Resources:
    """A resource vector: CPU in millicores, memory in MiB, and optional named resources in ``extra``.

    ``extra`` holds any further resource (network, local disk, ...) as sorted ``(name, amount)`` pairs; a
    name missing from one side counts as 0 (for a capacity: a host without that resource has none of it).
    """

    cpu_m: int = 0
    mem_mib: int = 0
    extra: Extra = ()

    def __add__(self, other: Resources) -> Resources:
        extra = _merge_extra(self.extra, other.extra, 1) if self.extra or other.extra else ()
        return Resources(self.cpu_m + other.cpu_m, self.mem_mib + other.mem_mib, extra)

    def __sub__(self, other: Resources) -> Resources:
        extra = _merge_extra(self.extra, other.extra, -1) if self.extra or other.extra else ()
        return Resources(self.cpu_m - other.cpu_m, self.mem_mib - other.mem_mib, extra)

    def amount(self, name: str) -> int:
        """The amount of resource ``name``: "cpu_m", "mem_mib" or a name in ``extra`` (0 when absent)."""
        if name == "cpu_m":
            return self.cpu_m
        if name == "mem_mib":
            return self.mem_mib
        return dict(self.extra).get(name, 0)

    def fits_in(self, capacity: Resources) -> bool:
        """True when every component is at most the one of ``capacity``."""
        if not (self.cpu_m <= capacity.cpu_m and self.mem_mib <= capacity.mem_mib):
            return False
        return all(amount <= capacity.amount(name) for name, amount in self.extra if amount > 0)

    def scaled(self, permille: int) -> Resources:
        """This vector times ``permille`` / 1000, rounded down."""
        extra = tuple((name, amount * permille // 1000) for name, amount in self.extra)
        return Resources(self.cpu_m * permille // 1000, self.mem_mib * permille // 1000, extra)

    def max_with(self, other: Resources) -> Resources:
        names = sorted({n for n, _ in self.extra} | {n for n, _ in other.extra})
        extra = tuple((n, max(self.amount(n), other.amount(n))) for n in names)
        return Resources(max(self.cpu_m, other.cpu_m), max(self.mem_mib, other.mem_mib), extra)

    @staticmethod
    def total(items: Iterable[Resources]) -> Resources:
        cpu = mem = 0
        extra: Extra = ()
        for item in items:
            cpu += item.cpu_m
            mem += item.mem_mib
            if item.extra:
                extra = _merge_extra(extra, item.extra, 1)
        return Resources(cpu, mem, extra)


ZERO = Resources()

POOL_PREFIX = "pool:"
"""Named resource of a storage pool: ``pool:<directory>`` in ``Resources.extra``. On a host's capacity it is the
pool's available MiB plus what the local disks of the host's VMs in that directory hold; on a VM's size the MiB
of its local disks there (a live migration copies them into the destination's pool of the same directory)."""


class MoveKind(enum.StrEnum):
    """How a VM is moved (see the migration-kinds table in ARCHITECTURE.md)."""

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
    domain: str = ""
    """Failure domain (rack, power feed, zone); "" = none given (the policy's ``domains`` may name one)."""
    networks: frozenset[str] | None = None
    """Networks and bridges a VM's NIC may name to run here, ``[[network_map]]`` applied (a source name the map
    sends to a network present here counts); None = not known, not checked."""
    cpu_group: str = ""
    """CPU compatibility group: the configured ``cpu_group``, else the host's CPU model; "" = not known."""
    cpu_models: frozenset[str] | None = None
    """Named CPU models a guest may use here (libvirt's domain capabilities); None = not known, not checked."""
    migration_problem: str = ""
    """Why the host cannot be reached on the migration network ("" = it can, or it is not checked)."""


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
    networks: frozenset[str] = frozenset()
    """The networks or bridges its NICs attach to, as named on its host."""
    cpu_mode: str = ""
    """Its ``<cpu mode>``: "custom", "host-model", "host-passthrough", or "" (no CPU defined)."""
    cpu_model: str = ""
    """The named model of a custom CPU ("" otherwise)."""


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """What the failure memory holds for one (VM, destination): moves refused at run time or failed.

    ``count`` failures so far; no new attempt before ``retry_at`` (clock seconds, exponential back-off); at
    ``policy.max_failures`` the pair stays blocked until ``balancerctl release VM``.
    """

    vm: str
    dest: str
    count: int
    retry_at: float
    last_error: str = ""


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
    _on_host: dict[str, tuple[Vm, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """VMs per host, built once so that status and metrics need not scan every VM for every host."""

    def __post_init__(self) -> None:
        index: dict[str, list[Vm]] = {}
        for vm in self.vms:
            index.setdefault(vm.host, []).append(vm)
        object.__setattr__(self, "_on_host", {host: tuple(vms) for host, vms in index.items()})

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def vms_on(self, host: str) -> tuple[Vm, ...]:
        return self._on_host.get(host, ())

    def find_vm(self, name: str) -> Vm | None:
        return next((vm for vm in self.vms if vm.name == name), None)

    def find_host(self, name: str) -> Host | None:
        return next((host for host in self.hosts if host.name == name), None)


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
class ForecastError:
    """How forecasts made ``horizon_s`` earlier compare with the usage observed now, for one resource.

    ``resource`` is "cpu" (``mae`` in millicores) or "memory" (``mae`` in MiB); ``coverage`` is the share of
    the ``vms`` compared whose usage was at most the upper forecast.
    """

    resource: str
    horizon_s: int
    mae: float
    coverage: float
    vms: int


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
class EvacuationStep:
    """One move of a host's evacuation, with its estimated duration (migration-cost model at the link speed)."""

    vm: str
    dest: str
    kind: MoveKind
    seconds: float


@dataclass(frozen=True, slots=True)
class Blocker:
    """A VM an evacuation has nowhere to put, and why (every host's reason in one line)."""

    vm: str
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class Evacuation:
    """The whole evacuation of one host, computed before any of its VMs moves (the drain proof).

    ``feasible``: every VM has a place, after the hosts in ``before`` (in maintenance earlier) took theirs;
    ``moves`` in a safe order; ``blockers`` the VMs with nowhere to go; ``estimated_s`` the moves' durations
    spread over the host's outgoing migration slots. ``forced``: drained as far as it goes although infeasible.
    """

    host: str
    feasible: bool
    moves: tuple[EvacuationStep, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    estimated_s: float = 0.0
    forced: bool = False
    before: tuple[str, ...] = ()

    @property
    def drains(self) -> bool:
        """True when the daemon drains the host: the proof holds, or the operator forced it."""
        return self.feasible or self.forced


@dataclass(frozen=True, slots=True)
class Restore:
    """A request to bring VMs back to ``host`` after its maintenance: each (VM, the host its drain put it on)."""

    host: str
    vms: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RestoreProgress:
    """Where a restore stands after this plan: VMs back already, moving back in it, waiting for the move budget,
    those that will not return (gone from the cluster, or moved elsewhere since the drain) and those the host
    cannot take now (rules, facts, room), each with why."""

    host: str
    back: tuple[str, ...] = ()
    moving: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    gone: tuple[tuple[str, str], ...] = ()
    blocked: tuple[tuple[str, str], ...] = ()
    host_problem: str = ""
    """Why the host takes nothing now (in maintenance again, unreachable): the restore waits for it."""

    @property
    def busy(self) -> bool:
        """VMs are moving back in this plan or waiting for the move budget (balancing waits meanwhile)."""
        return bool(self.moving or self.pending)

    @property
    def finished(self) -> bool:
        """Nothing is moving back, waiting for budget or for the host (the rest is back, gone or blocked)."""
        return not self.busy and not self.host_problem


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
    lower_bound: float = 0.0
    """A lower bound on the objective (= -score: imbalance + overload + rule penalties) of any plan within the
    cycle's move budget (:mod:`balancerd.optimize.bounds`)."""
    violations: tuple[str, ...] = ()
    """Placement rules the planned end state still breaks, in words."""
    power_off: tuple[str, ...] = ()
    """Hosts left empty that could be powered off (strategy "consolidate")."""
    migration_mib: int = 0
    """Estimated data to transfer for all moves (memory inflated by each VM's dirty rate)."""
    held: tuple[Skip, ...] = ()
    """VMs held by the failure memory: every candidate host failed ``max_failures`` times (with the reasons)."""
    tradeoff: tuple[float, ...] = ()
    """The objective after the first k moves of ``moves``, for k = 0 .. len(moves) (the last is ``objective``)."""
    drains: tuple[Evacuation, ...] = ()
    """The drain proof of every host in maintenance, in the order they are drained (refused ones included)."""
    infeasible: tuple[str, ...] = ()
    """What no placement fixes (demand above capacity, a host no move relieves), with resources and amounts."""
    restores: tuple[RestoreProgress, ...] = ()
    """Where every requested move-back after maintenance stands (:mod:`balancerd.optimize.restore`)."""

    @property
    def objective(self) -> float:
        """The objective of the planned end state: ``-score_after`` (lower is better)."""
        return -self.score_after

    @property
    def gap(self) -> float:
        """How far the objective is above the lower bound (0 = provably as good as any plan)."""
        return max(0.0, self.objective - self.lower_bound)

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
    forecast_errors: tuple[ForecastError, ...] = ()
    usage_total: Resources = ZERO
    """Measured usage of all running VMs now."""
    forecast_point: Resources = ZERO
    """Forecast usage of all running VMs one horizon ahead (point), and its upper quantile below."""
    forecast_upper: Resources = ZERO
