"""Moves and plans: what the optimizer proposes and why, drain proofs and restores (``balancerd.model``).

Built by :mod:`balancerd.optimize`; the executor, the journal, the API and the status file read them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class MoveKind(enum.StrEnum):
    """How a VM is moved (see the migration-kinds table in ARCHITECTURE.md)."""

    LIVE = "live"
    COLD = "cold"
    STORAGE = "storage"


class Purpose(enum.StrEnum):
    """Why a move is in a plan: what blackout windows (``[[policy.blackout]]``) and the per-VM daily cap
    (``[policy] max_moves_per_vm_per_day``, which exempts drains, restores and repairs) tell apart."""

    BALANCE = "balance"
    """Balancing or consolidation: moves balancerd chooses on its own."""
    DRAIN = "drain"
    """Emptying a host in maintenance (a resident moved to make room for a drained VM included)."""
    RESTORE = "restore"
    """Bringing a drained VM back to its host after maintenance."""
    REPAIR = "repair"
    """Fixing a hard placement rule the placement breaks."""


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
    purpose: Purpose = Purpose.BALANCE


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
class Candidate:
    """One host weighed for a new VM: the score change if it went there (None when it may not), or why not."""

    host: str
    gain: float | None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new VM should start (``host`` None: nowhere), why, and every host weighed, best first."""

    vm: str
    host: str | None
    reason: str
    candidates: tuple[Candidate, ...] = ()
