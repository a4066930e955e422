"""Convergence policy of one live migration: bandwidth, a max-downtime schedule that widens as pre-copy
passes stall, auto-converge, post-copy, the expected downtime and a deadline (issue 6, item 1).

Called by ``execute.preflight`` (resolve the policy of a VM and judge whether a live move can honour its
downtime tolerance) and by ``execute.runner`` (deadline, and :func:`escalate` on every poll of a running
job). Pure functions over config values, the VM's ``<balancerd:policy>`` overrides and job stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from balancerd.backends.base import JobStats, VmPolicy
from balancerd.config import MigrationConfig, ThrottleConfig

SWITCHOVER_FLOOR_MS = 50
"""Even an idle guest pauses this long at switch-over (device state, last pages; lab: 70-210 ms)."""
SETUP_S = 5.0
"""Fixed cost of a migration (connections, destination QEMU start), added to every deadline."""
CONVERGES_BELOW = 0.8
"""Pre-copy is expected to converge when the dirty rate is below this share of the bandwidth."""


@dataclass(frozen=True, slots=True)
class Convergence:
    """How one VM's live migration is run."""

    bandwidth_mib_s: int
    """The cap handed to the hypervisor: the VM's own, else ``[migration] bandwidth_mib_s``; 0 = no cap."""
    speed_mib_s: int
    """What the migration really gets (``MigrationConfig.speed_mib_s``): estimates and deadlines use it."""
    schedule_ms: tuple[int, ...]
    auto_converge: bool
    postcopy: bool
    tolerance_ms: int | None
    stall_iterations: int

    def converges(self, dirty_rate_mib_s: int) -> bool:
        """Whether plain pre-copy is expected to converge at this dirty rate."""
        return dirty_rate_mib_s < CONVERGES_BELOW * self.speed_mib_s

    def can_force(self) -> bool:
        """Auto-converge or post-copy can make a migration finish that plain pre-copy cannot."""
        return self.auto_converge or self.postcopy


def resolve(migration: MigrationConfig, policy: VmPolicy) -> Convergence:
    """The configured defaults with the VM's overrides; the schedule is clipped to its tolerance."""
    tolerance = policy.max_downtime_ms if policy.max_downtime_ms is not None else (
        migration.downtime_tolerance_ms or None)
    schedule = tuple(sorted(migration.downtime_schedule_ms))
    if tolerance is not None:
        schedule = tuple(ms for ms in schedule if ms <= tolerance) or (tolerance,)
    return Convergence(
        bandwidth_mib_s=policy.bandwidth_mib_s or migration.bandwidth_mib_s,
        speed_mib_s=migration.speed_mib_s(policy.bandwidth_mib_s),
        schedule_ms=schedule,
        auto_converge=migration.auto_converge if policy.auto_converge is None else policy.auto_converge,
        postcopy=migration.postcopy if policy.postcopy is None else policy.postcopy,
        tolerance_ms=tolerance,
        stall_iterations=migration.stall_iterations,
    )


def expected_downtime_ms(conv: Convergence, dirty_rate_mib_s: int) -> float:
    """The pause to expect at switch-over: the first schedule step when pre-copy converges, the widest one
    when auto-converge must throttle the guest, the floor with post-copy, infinity when nothing can finish."""
    first = max(SWITCHOVER_FLOOR_MS, conv.schedule_ms[0])
    if conv.converges(dirty_rate_mib_s):
        return float(first)
    if conv.postcopy:
        return float(first)
    if conv.auto_converge:
        return float(max(first, conv.schedule_ms[-1]))
    return math.inf


def tolerance_problem(conv: Convergence, dirty_rate_mib_s: int) -> str | None:
    """Why the VM must not be moved live (expected downtime above its tolerance), or None."""
    expected = expected_downtime_ms(conv, dirty_rate_mib_s)
    if math.isinf(expected):
        bw = conv.speed_mib_s
        return (f"dirty rate {dirty_rate_mib_s} MiB/s vs {bw} MiB/s bandwidth will not converge and neither "
                "auto-converge nor post-copy is allowed")
    if conv.tolerance_ms is not None and expected > conv.tolerance_ms:
        return f"tolerates {conv.tolerance_ms} ms of downtime, a live move is expected to pause it {expected:.0f} ms"
    return None


def deadline_s(conv: Convergence, migration: MigrationConfig, throttle: ThrottleConfig, memory_mib: int,
               dirty_rate_mib_s: int) -> float:
    """When to give up: ``factor`` x (memory / (bandwidth - dirty rate)) + setup, within [min, throttle cap]."""
    bandwidth = conv.speed_mib_s
    net = float(bandwidth - dirty_rate_mib_s)
    if not conv.converges(dirty_rate_mib_s):
        net = bandwidth * (1 - CONVERGES_BELOW)  # throttled guest or post-copy: assume a fifth of the link
    estimate = migration.deadline_factor * memory_mib / max(1.0, net) + SETUP_S
    return min(throttle.deadline_s, max(migration.deadline_min_s, estimate))


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where a running migration stands on its schedule: the step in use and the pass it started at."""

    step: int = 0
    mark_iteration: int = 0
    postcopy_started: bool = False


@dataclass(frozen=True, slots=True)
class Action:
    """What to do to a running migration: widen the downtime to ``downtime_ms`` or switch to post-copy."""

    downtime_ms: int | None = None
    postcopy: bool = False


def escalate(state: Escalation, stats: JobStats, conv: Convergence) -> tuple[Escalation, Action | None]:
    """After ``stall_iterations`` passes without finishing: the next downtime step, then post-copy."""
    if state.postcopy_started or stats.postcopy:
        return replace(state, postcopy_started=True), None
    if stats.iteration - state.mark_iteration < conv.stall_iterations or stats.iteration <= 1:
        return state, None
    marked = replace(state, mark_iteration=stats.iteration)
    if state.step + 1 < len(conv.schedule_ms):
        step = state.step + 1
        return replace(marked, step=step), Action(downtime_ms=conv.schedule_ms[step])
    if conv.postcopy:
        return replace(marked, postcopy_started=True), Action(postcopy=True)
    return marked, None
