"""The drain strategy: every VM on a host in maintenance moves off it.

Called by :func:`balancerd.optimize.optimizer.plan` before balancing, for the hosts whose drain proof holds
(:mod:`balancerd.optimize.evacuation`, which runs :func:`drain_host` itself without a budget), in the order
they entered maintenance. Every VM on such a host moves
(cooldown and ``min_gain`` do not apply; pins and exclusions do, and are reported as Skips) to the eligible host
where it fits, and its placement rules allow, with the best score, largest VMs first, until the move budget is
used up. Moves are applied to the working :class:`~balancerd.optimize.state.ClusterState`, so later choices see
earlier ones; the planner orders them.
"""

from __future__ import annotations

from collections.abc import Sequence

from balancerd.model import Move, Skip, Vm
from balancerd.optimize import room
from balancerd.optimize.constraints import DRAIN_VM_RULES, FIT_RULES, HOST_RULES, PLACEMENT_RULES, reasons
from balancerd.optimize.state import ClusterState, HostLoad
from balancerd.optimize.steps import best_dest, make_move

_MAX_SKIP_REASONS = 12


def drain(state: ClusterState, budget: int, hosts: Sequence[str]) -> tuple[list[Move], list[Skip]]:
    """Moves that empty ``hosts`` (in maintenance, in this order), and Skips for the VMs that cannot move.

    Once a host's drain is deferred (the budget ran out), the later hosts wait too: their proofs count on the
    room the earlier evacuations leave, so a cycle plans a prefix of the proofs' sequence, never a mix."""
    moves: list[Move] = []
    skips: list[Skip] = []
    for name in hosts:
        if any(s.reasons[0].startswith(_DEFERRED) for s in skips):
            skips.extend(_deferred(state, name, f"the drain of a host before it is unfinished; {name} waits"))
            continue
        more, skipped = drain_host(state, state.hosts[name], budget - len(moves))
        moves.extend(more)
        skips.extend(skipped)
    return moves, skips


def drain_host(state: ClusterState, host: HostLoad, budget: int) -> tuple[list[Move], list[Skip]]:
    """Moves (at most ``budget``) that empty one host, applied to ``state``, and Skips for the rest.

    The VMs go in a fixed order; once one is deferred for lack of budget (also a cascade needing more moves
    than are left), the rest are deferred too, so that no smaller VM takes the room the next cycle needs."""
    moves: list[Move] = []
    skips: list[Skip] = []
    for name in _drain_order(state, host):
        if skips and skips[-1].reasons[0].startswith(_DEFERRED):
            skips.append(Skip(name, _deferral(host.name)))
            continue
        more, skip = _drain_one(state, state.vms[name], host, budget - len(moves))
        moves.extend(more)
        skips.extend([skip] if skip else [])
    return moves, skips


_DEFERRED = "deferred: "


def _deferral(host: str) -> tuple[str, ...]:
    return (f"{_DEFERRED}the move budget of this cycle is used up; a later cycle continues the drain of {host}",)


def _deferred(state: ClusterState, host: str, why: str) -> list[Skip]:
    return [Skip(name, (f"{_DEFERRED}{why}",)) for name in _drain_order(state, state.hosts[host])]


def _drain_order(state: ClusterState, host: HostLoad) -> list[str]:
    """VMs to drain off ``host``, largest first (they are the hardest to place); in-flight VMs excluded."""
    names = [n for n in state.on_host[host.name] if n not in state.in_flight]
    return sorted(names, key=lambda n: (-state.demand[n].cap.mem_mib, -state.demand[n].cap.cpu_m, n))


def _drain_one(state: ClusterState, vm: Vm, host: HostLoad, budget: int) -> tuple[list[Move], Skip | None]:
    """The move(s) that take ``vm`` off ``host``: one, or a cascade that makes room first (:mod:`room`)."""
    blocked = reasons(vm, host.host, state, DRAIN_VM_RULES)
    if blocked:
        return [], Skip(vm.name, blocked)
    if budget <= 0:
        return [], Skip(vm.name, _deferral(host.name))
    best = _best_dest(state, vm.name)
    if best is None:
        why = f"drain: host {host.name} in maintenance"
        made = room.cascade(state, vm.name, state.eligible_hosts(), budget, why)
        if made:
            return made, None
        steps = room.first_steps(state, vm.name, state.eligible_hosts(), budget, why)
        if steps:  # the room it needs takes more moves than this cycle has: the first ones now
            return steps, Skip(vm.name, _deferral(host.name))
        return [], Skip(vm.name, no_room_reasons(state, vm))
    dest, gain = best
    reason = f"drain: host {host.name} in maintenance; to {dest.name} at {dest.percent()}"
    move = make_move(state, vm.name, dest.name, reason, gain)
    state.apply(vm.name, dest.name)
    return [move], None


def _best_dest(state: ClusterState, vm: str) -> tuple[HostLoad, float] | None:
    """The eligible host where ``vm`` fits (and its placement rules allow) with the best score change."""
    return best_dest(state, vm, state.eligible_hosts())


def _in_maintenance(hosts: list[str]) -> str:
    if len(hosts) == 1:
        return f"{hosts[0]} is in maintenance"
    return f"{len(hosts)} hosts are in maintenance ({_hosts(hosts)})"


def _hosts(hosts: list[str]) -> str:
    """Up to six host names, then how many more."""
    return ", ".join(hosts[:6]) + (f" and {len(hosts) - 6} more" if len(hosts) > 6 else "")


def no_room_reasons(state: ClusterState, vm: Vm) -> tuple[str, ...]:
    """Why ``vm`` fits on no other host: every host's reasons, capped at a readable number."""
    found: list[tuple[str, str]] = []
    resting: list[str] = []
    for host in state.hosts.values():
        if host.name == state.location[vm.name]:
            continue
        if host.host.maintenance:
            resting.append(host.name)
            continue
        found.extend((host.name, r) for r in reasons(vm, host.host, state, HOST_RULES + PLACEMENT_RULES + FIT_RULES))
    if not found and not resting:
        return (f"no host in the cluster besides {state.location[vm.name]}",)
    shown = [reason for _, reason in found[:_MAX_SKIP_REASONS]]
    rest = list(dict.fromkeys(host for host, _ in found[_MAX_SKIP_REASONS:]))
    if rest:
        shown.append(f"... and {len(found) - _MAX_SKIP_REASONS} more reasons on {_hosts(rest)}")
    return (*shown, *([_in_maintenance(resting)] if resting else []))
