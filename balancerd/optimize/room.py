"""Cascades: make room on a host for a VM that must go there, by moving some of its residents elsewhere first.

Called by :mod:`balancerd.optimize.drain` (a drained VM that fits nowhere) and :mod:`balancerd.optimize.repair`
(a VM whose rule sends it to a full host), so a pinned-by-rule VM is not skipped only because its one allowed
host is full. One level deep: the residents moved away must fit where they go as they are (no cascade of
cascades). Residents are chosen among those a balance move could touch (running, live, no rule of their own,
no cooldown, not moved yet in this plan), largest first, until the VM fits within usable capacity; each goes to
its best other eligible host. Of every host the VM's rules allow, the one needing the fewest moves wins (then
the best score). Nothing is applied unless the whole cascade works. A cascade longer than the cycle's budget
is split (:func:`first_steps`): the evictions that fit go now, the VM itself in a later cycle, so a budget of
one move still gets there.
"""

from __future__ import annotations

from collections.abc import Iterable

from balancerd.model import Move, MoveKind
from balancerd.optimize.constraints import VM_RULES, placement_allows, reasons
from balancerd.optimize.state import ClusterState, HostLoad, kind_of
from balancerd.optimize.steps import best_dest, make_move


def cascade(state: ClusterState, vm: str, hosts: Iterable[HostLoad], budget: int, why: str) -> list[Move]:
    """Moves that make room for ``vm`` on one of ``hosts`` and then move it there (applied to ``state``);
    empty when no host can be made room on within ``budget`` moves. ``why`` starts the VM's own reason."""
    best: tuple[int, str, list[tuple[str, str]]] | None = None
    for host in hosts:
        if host.name == state.location[vm] or not placement_allows(state.vms[vm], host.host, state):
            continue
        evictions = _evictions(state, vm, host, budget - 1)
        if evictions is not None and (best is None or len(evictions) < best[0]):
            best = (len(evictions), host.name, evictions)
    return [] if best is None else _apply(state, vm, best[1], best[2], why)


def first_steps(state: ClusterState, vm: str, hosts: Iterable[HostLoad], budget: int, why: str) -> list[Move]:
    """When making room for ``vm`` takes more than ``budget`` moves: its first ``budget`` evictions (applied to
    ``state``; ``vm`` stays for a later cycle); empty when no cascade works at any budget."""
    if budget <= 0:
        return []
    trial = state.copy()
    whole = cascade(trial, vm, list(hosts), len(state.vms) + 1, why)
    steps = whole[:min(budget, len(whole) - 1)]
    for move in steps:
        state.apply(move.vm, move.dest)
    return steps


def _evictions(state: ClusterState, vm: str, host: HostLoad, budget: int) -> list[tuple[str, str]] | None:
    """(resident, destination) pairs after which ``vm`` fits on ``host``, tried on a copy; None if none do."""
    trial = state.copy()
    target = trial.hosts[host.name]
    need = trial.demand[vm].cap
    found: list[tuple[str, str]] = []
    for resident in _residents(trial, target):
        if target.fits(need) or len(found) >= budget:
            break
        others = [h for h in trial.eligible_hosts() if h.name not in (host.name, trial.location[vm])]
        dest = best_dest(trial, resident, others)
        if dest is not None:
            found.append((resident, dest[0].name))
            trial.apply(resident, dest[0].name)
    return found if target.fits(need) and found else None


def _residents(state: ClusterState, host: HostLoad) -> list[str]:
    """Residents of ``host`` a cascade may move, largest first."""
    names = [n for n in state.on_host[host.name] if n not in state.rules.constrained
             and kind_of(state.vms[n]) is MoveKind.LIVE and not reasons(state.vms[n], host.host, state, VM_RULES)]
    return sorted(names, key=lambda n: (-state.demand[n].cap.mem_mib, -state.demand[n].cap.cpu_m, n))


def _apply(state: ClusterState, vm: str, host: str, evictions: list[tuple[str, str]], why: str) -> list[Move]:
    moves: list[Move] = []
    for resident, dest in evictions:
        gain = state.move_delta(resident, dest)[0]
        moves.append(make_move(state, resident, dest, f"make room: {resident} leaves {host} for {dest} so that "
                               f"{vm} fits there", gain))
        state.apply(resident, dest)
    gain = state.move_delta(vm, host)[0]
    moves.append(make_move(state, vm, host, f"{why}; to {host} after {len(evictions)} VM(s) made room", gain))
    state.apply(vm, host)
    return moves
