"""Pre-flight of one move: which kind of move it becomes, its convergence policy and deadline, and the
checks that must pass before it starts (issue 6, items 1, 2, 3 and 5).

Called by ``execute.runner`` right before a move starts (after the daemon's guard): it builds the request
the backend is asked about (:func:`probe_request`), then :func:`decide` combines the backend's
:class:`~balancerd.backends.base.MoveFacts` with the config and the moves already in flight. A failed check
skips the move with its reason; it never fails the cycle. Pure: the clock's ``now`` is passed in.
``balancerd plan --explain`` can call :func:`decide` the same way to show the checks of a planned move.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from balancerd.backends.base import Check, MigrationRequest, MoveFacts
from balancerd.cold_windows import in_any_window
from balancerd.config import Config, MigrationConfig, NetworkMapConfig, ThrottleConfig, network_pairs
from balancerd.execute import convergence
from balancerd.execute.convergence import Convergence
from balancerd.model import Move, MoveKind


@dataclass(frozen=True, slots=True)
class Settings:
    """The config the executor and its pre-flight read: the throttle reaches the executor only through this."""

    throttle: ThrottleConfig = ThrottleConfig()
    migration: MigrationConfig = MigrationConfig()
    network_map: tuple[NetworkMapConfig, ...] = ()

    @classmethod
    def of(cls, config: Config) -> Settings:
        """The parts of ``config`` the executor and its pre-flight read (the one way they are built)."""
        return cls(config.throttle, config.migration, config.network_map)


@dataclass(frozen=True, slots=True)
class Decision:
    """The request to start (None when skipped), every check, and the policy the runner steers by."""

    request: MigrationRequest | None
    checks: tuple[Check, ...]
    convergence: Convergence
    deadline_s: float

    @property
    def skip_reason(self) -> str | None:
        failed = [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]
        return "pre-flight failed: " + "; ".join(failed) if failed else None


def probe_request(move: Move, settings: Settings) -> MigrationRequest:
    """What the backend is asked about: the move with the destination's network map."""
    return MigrationRequest(move.vm, move.source, move.dest, move.kind,
                            network_map=network_pairs(settings.network_map, move.dest))


def decide(move: Move, facts: MoveFacts, settings: Settings, incoming_mib: int, now: float) -> Decision:
    """The request to start (or the reasons not to), from the backend's facts, the config and the clock."""
    conv = convergence.resolve(settings.migration, facts.policy)
    kind, kind_check = _kind(move, facts, conv, settings.migration, now)
    if kind is MoveKind.COLD and facts.local_disks and kind_check.ok:
        kind_check = Check("kind", False, f"{kind_check.detail}; but an offline move cannot copy the local "
                                          f"disks {', '.join(facts.local_disks)} (not supported yet)")
    checks = [*facts.checks, kind_check, _capacity(facts, incoming_mib)]
    if kind is not MoveKind.COLD:
        checks.append(_tolerance(conv, facts))
    deadline = convergence.deadline_s(conv, settings.migration, settings.throttle, facts.memory_mib,
                                      facts.dirty_rate_mib_s)
    request = None
    if all(check.ok for check in checks):
        request = _request(move, facts, kind, conv, settings)
    return Decision(request, tuple(checks), conv, deadline)


def _kind(move: Move, facts: MoveFacts, conv: Convergence, migration: MigrationConfig,
          now: float) -> tuple[MoveKind, Check]:
    """Live, storage (local disks to copy) or cold (shut off, not live-migratable, or live impossible)."""
    if not facts.running:
        return MoveKind.COLD, Check("kind", True, "cold: the VM is shut off")
    window = in_any_window(migration.maintenance_windows, now)
    live_problem = convergence.tolerance_problem(conv, facts.dirty_rate_mib_s)
    if not facts.policy.live or move.kind is MoveKind.COLD:
        why = "the VM's policy forbids live migration" if not facts.policy.live else "planned as cold"
        if window and facts.policy.cold is not False:
            return MoveKind.COLD, Check("kind", True, f"cold inside a maintenance window: {why}")
        return MoveKind.COLD, Check("kind", False, f"{why}; cold moves only inside a maintenance window")
    cold_ok = facts.policy.cold is True or (facts.policy.cold is None and migration.cold_in_window)
    if live_problem is not None and window and cold_ok:
        return MoveKind.COLD, Check("kind", True, f"cold inside a maintenance window: {live_problem}")
    if facts.local_disks or move.kind is MoveKind.STORAGE:
        return MoveKind.STORAGE, Check("kind", True, f"live with storage copy of {', '.join(facts.local_disks)}")
    return MoveKind.LIVE, Check("kind", True, "live")


def _capacity(facts: MoveFacts, incoming_mib: int) -> Check:
    free = facts.dest_free_mib - incoming_mib
    detail = (f"{free} MiB free on the destination after {incoming_mib} MiB of moves in flight; "
              f"the VM needs {facts.memory_mib} MiB")
    return Check("capacity", free >= facts.memory_mib, detail)


def _tolerance(conv: Convergence, facts: MoveFacts) -> Check:
    problem = convergence.tolerance_problem(conv, facts.dirty_rate_mib_s)
    if problem is not None:
        return Check("downtime tolerance", False, problem)
    expected = convergence.expected_downtime_ms(conv, facts.dirty_rate_mib_s)
    limit = "no limit" if conv.tolerance_ms is None else f"tolerates {conv.tolerance_ms} ms"
    return Check("downtime tolerance", True, f"expected {expected:.0f} ms, {limit}")


def _request(move: Move, facts: MoveFacts, kind: MoveKind, conv: Convergence,
             settings: Settings) -> MigrationRequest:
    base = probe_request(move, settings)
    shutdown = settings.migration.cold_shutdown_timeout_s if kind is MoveKind.COLD and facts.running else 0.0
    return replace(
        base, kind=kind, bandwidth_mib_s=conv.bandwidth_mib_s, max_downtime_ms=conv.schedule_ms[0],
        auto_converge=conv.auto_converge, postcopy=conv.postcopy,
        auto_converge_initial_pct=settings.migration.auto_converge_initial_pct,
        auto_converge_increment_pct=settings.migration.auto_converge_increment_pct,
        copy_disks=facts.local_disks if kind is MoveKind.STORAGE else (), shutdown_timeout_s=shutdown)
