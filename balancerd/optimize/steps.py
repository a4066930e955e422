"""Moves and steps the strategies share: a Move record from the working state, the best destination of a VM,
hot hosts, the VMs a balance move may touch, and swaps.

Called by :mod:`balancerd.optimize.drain` (``best_dest``, ``make_move``), :mod:`balancerd.optimize.balance`
(hot sources, swap steps, ``take_step``) and :mod:`balancerd.optimize.consolidate` (``make_move``). Swaps exchange
two VMs between a hot host and one of the coolest hosts (the planner orders or parks them).
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass

from balancerd.model import Move, MoveKind, Vm
from balancerd.optimize.constraints import VM_RULES, placement_allows, reasons
from balancerd.optimize.state import ClusterState, HostLoad, kind_of

_EPS = 1e-9
_SOURCES_TRIED = 3
"""How many of the most utilised hosts a balance step tries as sources."""
_SWAP_PARTNERS = 8
"""How many of the least utilised hosts a swap considers as partners."""


@dataclass(frozen=True, slots=True)
class Step:
    """One balance step: ``moves`` as (vm, dest) pairs, its score gain and the imbalance after it."""

    moves: tuple[tuple[str, str], ...]
    gain: float
    imbalance: float


def best_dest(state: ClusterState, vm: str, dests: list[HostLoad]) -> tuple[HostLoad, float] | None:
    """Among ``dests``, the one where ``vm`` fits with the best score change, and that change.

    VMs without placement rules or named resources take the O(1)-per-host path of ``state.best_dest``;
    the others are checked against every rule and scored exactly (soft rules included).
    """
    spec = state.vms[vm]
    if vm not in state.constrained and not state.demand[vm].cap.extra:
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





def make_move(state: ClusterState, vm: str, dest: str, reason: str, gain: float) -> Move:
    """The Move of ``vm`` from where the working state has it to ``dest``."""
    spec = state.vms[vm]
    return Move(vm=vm, source=state.location[vm], dest=dest, kind=kind_of(spec), reason=reason,
                gain=gain, memory_mib=spec.size.mem_mib)


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
    if da.cap.extra or db.cap.extra:
        gain += state.named_delta(((vm_a, b.name), (vm_b, a.name)))
    gain += _swap_soft(state, vm_a, b.name, vm_b, a.name)
    return Step(((vm_a, b.name), (vm_b, a.name)), gain, imbalance)


def _swap_soft(state: ClusterState, vm_a: str, dest_a: str, vm_b: str, dest_b: str) -> float:
    """Score change from soft rules of ``vm_a`` going to ``dest_a``, then ``vm_b`` to ``dest_b``."""
    soft = state.rules.soft
    if vm_a not in soft and vm_b not in soft:
        return 0.0
    first = state.rules.soft_change(vm_a, dest_a, state.location) if vm_a in soft else 0.0
    after = ChainMap({vm_a: dest_a}, state.location)
    second = state.rules.soft_change(vm_b, dest_b, after) if vm_b in soft else 0.0
    return -state.policy.soft_rule_weight * (first + second)


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
