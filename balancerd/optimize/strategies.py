"""The strategies that choose where VMs should go: drain maintenance hosts, then balance greedily.

Called by :func:`balancerd.optimize.optimizer.plan`, which orders the chosen moves safely afterwards with
:mod:`balancerd.optimize.planner`. Both strategies apply every move they choose to the working
:class:`~balancerd.optimize.state.ClusterState`, so later choices see earlier ones.

Drain: every VM on a host in maintenance moves (cooldown and ``min_gain`` do not apply) to the eligible host
where it fits with the best score, largest VMs first, until the move budget is used up. Balance: repeatedly
take the most utilised eligible hosts, find the single move off them with the best score gain, and accept it
when the gain reaches ``policy.min_gain``; when no single move does, try exchanging two VMs between a hot
host and one of the coolest hosts (the planner orders or parks such swaps). Balance moves only running,
live-migratable VMs.
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.model import Move, MoveKind, Skip, Vm
from balancerd.optimize.constraints import DRAIN_VM_RULES, FIT_RULES, HOST_RULES, VM_RULES, reasons
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
    move = _move(state, vm.name, dest.name, reason, gain)
    state.apply(vm.name, dest.name)
    return move, None


def _best_dest(state: ClusterState, vm: str) -> tuple[HostLoad, float] | None:
    """The eligible host where ``vm`` fits with the best score change, and that change."""
    found = state.best_dest(vm, state.eligible_hosts())
    return None if found is None else (found[0], found[1])


def no_room_reasons(state: ClusterState, vm: Vm) -> tuple[str, ...]:
    """Why ``vm`` fits on no other host: every host's reasons, capped at a readable number."""
    found: list[str] = []
    for host in state.hosts.values():
        if host.name != state.location[vm.name]:
            found.extend(reasons(vm, host.host, state, HOST_RULES + FIT_RULES))
    if not found:
        return ("no other host in the cluster",)
    if len(found) > _MAX_SKIP_REASONS:
        extra = len(found) - _MAX_SKIP_REASONS
        found = [*found[:_MAX_SKIP_REASONS], f"... and {extra} more reasons"]
    return tuple(found)


def _move(state: ClusterState, vm: str, dest: str, reason: str, gain: float) -> Move:
    spec = state.vms[vm]
    return Move(vm=vm, source=state.location[vm], dest=dest, kind=kind_of(spec), reason=reason,
                gain=gain, memory_mib=spec.size.mem_mib)


# -------------------------------------------------------------------------------------------- balance


def balance(state: ClusterState, budget: int) -> list[Move]:
    """Greedy balance moves, at most ``budget`` of them."""
    moves: list[Move] = []
    while len(moves) < budget:
        step = _best_step(state, budget - len(moves))
        if step is None:
            break
        moves.extend(_take(state, step))
    return moves


def _best_step(state: ClusterState, room: int) -> Step | None:
    sources = _hot_sources(state)
    for source in sources:
        step = _best_single(state, source)
        if _acceptable(state, step):
            return step
    for source in sources if room >= 2 else []:
        step = _best_swap(state, source)
        if _acceptable(state, step):
            return step
    return None


def _acceptable(state: ClusterState, step: Step | None) -> bool:
    return step is not None and step.gain > _EPS and step.gain >= state.policy.min_gain


def _hot_sources(state: ClusterState) -> list[HostLoad]:
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


def _best_single(state: ClusterState, source: HostLoad) -> Step | None:
    dests = [h for h in state.eligible_hosts()
             if h.name != source.name and (source.pen > 0 or h.util < source.util)]
    best: Step | None = None
    for vm in movable(state, source):
        found = state.best_dest(vm.name, dests)
        if found is not None and (best is None or found[1] > best.gain):
            best = Step(((vm.name, found[0].name),), found[1], found[2])
    return best


def _best_swap(state: ClusterState, source: HostLoad) -> Step | None:
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
    bal = db.bal - da.bal
    gain, imbalance = state.delta(((a, bal.cpu_m, bal.mem_mib, cap.cpu_m, cap.mem_mib),
                                   (b, -bal.cpu_m, -bal.mem_mib, -cap.cpu_m, -cap.mem_mib)))
    return Step(((vm_a, b.name), (vm_b, a.name)), gain, imbalance)


def _take(state: ClusterState, step: Step) -> list[Move]:
    """Turn ``step`` into Moves with reasons, and apply it to ``state``."""
    before = state.imbalance()
    share = step.gain / len(step.moves)
    described = [(vm, dest, _describe(state, vm, dest, step, before)) for vm, dest in step.moves]
    moves = [_move(state, vm, dest, reason, share) for vm, dest, reason in described]
    for vm, dest, _ in described:
        state.apply(vm, dest)
    return moves


def _describe(state: ClusterState, vm: str, dest: str, step: Step, before: float) -> str:
    source = state.hosts[state.location[vm]]
    target = state.hosts[dest]
    swap = " (swap)" if len(step.moves) > 1 else ""
    return (f"balance{swap}: {source.name} at {source.percent()} -> {target.name} at {target.percent()}; "
            f"imbalance {before:.2f} -> {step.imbalance:.2f}")
