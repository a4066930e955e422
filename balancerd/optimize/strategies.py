"""The drain strategy and the helpers the balance strategy shares (move records, hot hosts, swaps).

Called by :func:`balancerd.optimize.optimizer.plan` (drain) and :mod:`balancerd.optimize.balance` (hot
sources, swap steps, Move records). Every strategy applies the moves it chooses to the working
:class:`~balancerd.optimize.state.ClusterState`, so later choices see earlier ones; the planner orders them.

Drain: every VM on a host in maintenance moves (cooldown and ``min_gain`` do not apply; pins and exclusions
do, and are reported as Skips) to the eligible host where it fits, and its placement rules allow, with the
best score, largest VMs first, until the move budget is used up. Swaps exchange two VMs between a hot host and
one of the coolest hosts (the planner orders or parks them).
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.model import Move, MoveKind, Skip, Vm
from balancerd.optimize.constraints import (
    DRAIN_VM_RULES,
    FIT_RULES,
    HOST_RULES,
    PLACEMENT_RULES,
    VM_RULES,
    placement_allows,
    reasons,
)
from balancerd.optimize.state import ClusterState, HostLoad, kind_of

_EPS = 1e-9
_SOURCES_TRIED = 3
"""How many of the most utilised hosts a balance step tries as sources."""
_SWAP_PARTNERS = 8
"""How many of the least utilised hosts a swap considers as partners."""
_MAX_SKIP_REASONS = 12


@dataclass(frozen=True, slots=True)
class Step:
    """One balance step: ``moves`` as (vm, dest) pairs, its score gain and the imbalance after it."""

    moves: tuple[tuple[str, str], ...]
    gain: float
    imbalance: float


# ---------------------------------------------------------------------------------------------- drain


def drain(state: ClusterState, budget: int) -> tuple[list[Move], list[Skip]]:
    """Moves that empty every host in maintenance, and Skips for the VMs that cannot move."""
    moves: list[Move] = []
    skips: list[Skip] = []
    for host in sorted((h for h in state.hosts.values() if h.host.maintenance), key=lambda h: h.name):
        for name in _drain_order(state, host):
            move, skip = _drain_one(state, state.vms[name], host, budget - len(moves))
            moves.extend([move] if move else [])
            skips.extend([skip] if skip else [])
    return moves, skips


def _drain_order(state: ClusterState, host: HostLoad) -> list[str]:
    """VMs to drain off ``host``, largest first (they are the hardest to place); in-flight VMs excluded."""
    names = [n for n in state.on_host[host.name] if n not in state.in_flight]
    return sorted(names, key=lambda n: (-state.demand[n].cap.mem_mib, -state.demand[n].cap.cpu_m, n))


def _drain_one(state: ClusterState, vm: Vm, host: HostLoad, budget: int) -> tuple[Move | None, Skip | None]:
    blocked = reasons(vm, host.host, state, DRAIN_VM_RULES)
    if blocked:
        return None, Skip(vm.name, blocked)
    if budget <= 0:
        return None, Skip(vm.name, ("deferred: the move budget of this cycle is used up; a later cycle "
                                    "continues the drain",))
    best = _best_dest(state, vm.name)
    if best is None:
        return None, Skip(vm.name, no_room_reasons(state, vm))
    dest, gain = best
    reason = f"drain: host {host.name} in maintenance; to {dest.name} at {dest.percent()}"
    move = make_move(state, vm.name, dest.name, reason, gain)
    state.apply(vm.name, dest.name)
    return move, None


def _best_dest(state: ClusterState, vm: str) -> tuple[HostLoad, float] | None:
    """The eligible host where ``vm`` fits (and its placement rules allow) with the best score change."""
    return best_dest(state, vm, state.eligible_hosts())


def best_dest(state: ClusterState, vm: str, dests: list[HostLoad]) -> tuple[HostLoad, float] | None:
    """Among ``dests``, the one where ``vm`` fits with the best score change, and that change.

    VMs without placement rules or named resources take the O(1)-per-host path of ``state.best_dest``;
    the others are checked against every rule and scored exactly (soft rules included).
    """
    spec = state.vms[vm]
    if vm not in state.rules.constrained and not state.demand[vm].cap.extra:
        found = state.best_dest(vm, dests)
        return None if found is None else (found[0], found[1])
    need = state.demand[vm].cap
    best: tuple[HostLoad, float] | None = None
    for host in dests:
        if host.name == state.location[vm] or not host.fits(need) or not placement_allows(spec, host.host, state):
            continue
        gain = state.move_delta(vm, host.name)[0]
        if best is None or gain > best[1]:
            best = (host, gain)
    return best


def no_room_reasons(state: ClusterState, vm: Vm) -> tuple[str, ...]:
    """Why ``vm`` fits on no other host: every host's reasons, capped at a readable number."""
    found: list[str] = []
    for host in state.hosts.values():
        if host.name != state.location[vm.name]:
            found.extend(reasons(vm, host.host, state, HOST_RULES + PLACEMENT_RULES + FIT_RULES))
    if not found:
        return ("no other host in the cluster",)
    if len(found) > _MAX_SKIP_REASONS:
        extra = len(found) - _MAX_SKIP_REASONS
        found = [*found[:_MAX_SKIP_REASONS], f"... and {extra} more reasons"]
    return tuple(found)


def make_move(state: ClusterState, vm: str, dest: str, reason: str, gain: float) -> Move:
    spec = state.vms[vm]
    return Move(vm=vm, source=state.location[vm], dest=dest, kind=kind_of(spec), reason=reason,
                gain=gain, memory_mib=spec.size.mem_mib)


# ----------------------------------------------------------------------------------- balance helpers


def hot_sources(state: ClusterState) -> list[HostLoad]:
    """The most utilised eligible hosts above the mean (or overloaded), hottest first."""
    hosts = state.eligible_hosts()
    mean = state.total / state.count if state.count else 0.0
    hot = [h for h in hosts if h.util > mean + _EPS or h.pen > 0]
    hot.sort(key=lambda h: (-h.pen, -h.util, h.name))
    return hot[:_SOURCES_TRIED]


def movable(state: ClusterState, host: HostLoad) -> list[Vm]:
    """VMs on ``host`` a balance move may touch: running, live-migratable, no VM rule against them."""
    vms = (state.vms[n] for n in state.on_host[host.name])
    return [vm for vm in vms if kind_of(vm) is MoveKind.LIVE and not reasons(vm, host.host, state, VM_RULES)]


def best_swap(state: ClusterState, source: HostLoad) -> Step | None:
    partners = sorted((h for h in state.eligible_hosts() if h.name != source.name), key=lambda h: h.util)
    best: Step | None = None
    hot_vms = movable(state, source)
    for partner in partners[:_SWAP_PARTNERS]:
        for cool in movable(state, partner):
            for hot in hot_vms:
                step = _swap_step(state, source, hot.name, partner, cool.name)
                if step is not None and (best is None or step.gain > best.gain):
                    best = step
    return best


def _swap_step(state: ClusterState, a: HostLoad, vm_a: str, b: HostLoad, vm_b: str) -> Step | None:
    """Exchange ``vm_a`` (on ``a``) with ``vm_b`` (on ``b``) if both fit in the target state."""
    da, db = state.demand[vm_a], state.demand[vm_b]
    cap = db.cap - da.cap
    if not (a.fits(cap) and b.fits(da.cap - db.cap)):
        return None
    if not (placement_allows(state.vms[vm_a], b.host, state) and placement_allows(state.vms[vm_b], a.host, state)):
        return None
    bal = db.bal - da.bal
    gain, imbalance = state.delta(((a, bal.cpu_m, bal.mem_mib, cap.cpu_m, cap.mem_mib),
                                   (b, -bal.cpu_m, -bal.mem_mib, -cap.cpu_m, -cap.mem_mib)))
    return Step(((vm_a, b.name), (vm_b, a.name)), gain, imbalance)


def take_step(state: ClusterState, step: Step) -> list[Move]:
    """Turn ``step`` into Moves with reasons, and apply it to ``state``."""
    before = state.imbalance()
    share = step.gain / len(step.moves)
    described = [(vm, dest, _describe(state, vm, dest, step, before)) for vm, dest in step.moves]
    moves = [make_move(state, vm, dest, reason, share) for vm, dest, reason in described]
    for vm, dest, _ in described:
        state.apply(vm, dest)
    return moves


def _describe(state: ClusterState, vm: str, dest: str, step: Step, before: float) -> str:
    source = state.hosts[state.location[vm]]
    target = state.hosts[dest]
    swap = " (swap)" if len(step.moves) > 1 else ""
    return (f"balance{swap}: {source.name} at {source.percent()} -> {target.name} at {target.percent()}; "
            f"imbalance {before:.2f} -> {step.imbalance:.2f}")
