"""``explain()``: why one VM did or did not move in the plan for a snapshot.

Called by ``balancerd plan --explain VM`` and the daemon's status output (ARCHITECTURE.md rule 6). It computes the
plan, then reports the VM's moves (reason and change of objective), its Skip reasons, or, when the plan left
it alone, every constraint that blocks each candidate host (capacity, reachability, maintenance, cooldown,
pins, exclusions, must / must-not, anti-affinity, affinity, spread, named resources) judged in the state the
plan leads to, soft-rule preferences, and the score change of the hosts it could still go to.
"""

from __future__ import annotations

from balancerd.config import DEFAULT_LINK_MIB_S, PolicyConfig
from balancerd.model import ClusterSnapshot, FailureRecord, Forecast, Plan
from balancerd.optimize.constraints import reasons
from balancerd.optimize.limits import Limits
from balancerd.optimize.optimizer import DrainInputs, needs_balance, plan
from balancerd.optimize.state import ClusterState


def explain(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig, vm: str,
            cooldown: frozenset[str] = frozenset(), *, migration_mib_s: int = DEFAULT_LINK_MIB_S,
            failures: tuple[FailureRecord, ...] = (), drains: DrainInputs = DrainInputs(),
            limits: Limits = Limits()) -> tuple[str, ...]:
    """Lines of text saying why ``vm`` moves, was skipped, or stays where it is (``plan``'s arguments)."""
    result = plan(snapshot, forecast, policy, cooldown, migration_mib_s=migration_mib_s, failures=failures,
                  drains=drains, limits=limits)
    moved = [m for m in result.moves if m.vm == vm]
    if moved:
        return tuple(f"moves {m.source} -> {m.dest} ({m.kind}): {m.reason}; objective {-m.gain:+.6f}"
                     for m in moved)
    skipped = [reason for skip in result.skipped if skip.vm == vm for reason in skip.reasons]
    if skipped:
        return tuple(f"skipped: {reason}" for reason in skipped)
    state = ClusterState(snapshot, forecast, policy, cooldown, migration_mib_s=migration_mib_s, failures=failures,
                         capped=limits.capped, recent=limits.recent)
    held = [reason for skip in result.held if skip.vm == vm for reason in skip.reasons]
    if held:
        return (f"held by the failure memory (balancerctl release {vm} clears it):", *held)
    if vm not in state.vms:
        return (f"{vm} is not in snapshot {snapshot.seq}",)
    for move in result.moves:
        state.apply(move.vm, move.dest)
    return (_headline(state, result, vm), *_soft(state, vm), *_per_host(state, vm))


def _soft(state: ClusterState, vm: str) -> list[str]:
    rules = state.rules
    lines = [f"soft rule {rule.name}: {rule.kind.replace('_', ' ')} {', '.join(sorted(rule.hosts))}"
             f"{_weight(rule.weight)}" for rule in rules.host_rules.get(vm, ()) if rule.kind.startswith("should")]
    for group in rules.soft_groups.get(vm, ()):
        verb = "should share a host with" if group.kind == "soft_affinity" else "should run apart from"
        others = ", ".join(m for m in group.members if m != vm)
        lines.append(f"soft rule {group.name}: {verb} {others}{_weight(group.weight)}")
    return lines


def _weight(weight: float) -> str:
    return "" if weight == 1.0 else f" (weight {weight:g})"


def _headline(state: ClusterState, result: Plan, vm: str) -> str:
    where = state.location[vm]
    if not needs_balance(state) and not result.moves:
        return f"stays on {where}: {result.notes[0] if result.notes else 'cluster balanced'}"
    return f"stays on {where}: no move of it was chosen (the plan has {len(result.moves)} moves)"


def _per_host(state: ClusterState, vm: str) -> list[str]:
    spec = state.vms[vm]
    lines: list[str] = []
    for load in state.hosts.values():
        found = reasons(spec, load.host, state)
        if found:
            lines.extend(f"{load.name}: {reason}" for reason in found)
            continue
        gain, _ = state.move_delta(vm, load.name)
        lines.append(f"{load.name}: allowed; the score would change by {gain:+.6f} "
                     f"(a move needs {state.policy.min_gain} per host x its migration cost; "
                     f"{state.count} hosts)")
    return lines
