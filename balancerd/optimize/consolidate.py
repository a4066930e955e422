"""The consolidate strategy: pack VMs onto fewer hosts so that whole hosts can be powered off.

Called by :func:`balancerd.optimize.optimizer.plan` when ``policy.strategy`` is "consolidate" (after the
drains). Hosts are emptied one at a time, the least loaded first (fewest VMs, then lowest utilisation): every
VM of the host goes, largest first, to the FULLEST other eligible host that still holds it within
``policy.consolidate_target_pct`` % of its usable capacity and whose placement rules allow it (best-fit
decreasing). A host is emptied completely or not at all: when one of its VMs finds no place, or cannot move
(pinned, excluded, cold, in cooldown), or the move budget would run out half-way, its tentative moves are
undone and the strategy stops. Hosts that received VMs are never emptied later in the same plan.
:func:`idle_hosts` names the eligible hosts left without VMs: the ones that could be powered off.
"""

from __future__ import annotations

from balancerd.model import Move, Resources
from balancerd.optimize.constraints import placement_allows
from balancerd.optimize.state import ClusterState, HostLoad
from balancerd.optimize.steps import make_move


def consolidate(state: ClusterState, budget: int, movable: set[str]) -> list[Move]:
    """Moves that empty whole hosts, at most ``budget`` of them, applied to ``state``."""
    moves: list[Move] = relieve(state, budget, movable)
    receivers: set[str] = {m.dest for m in moves} | {m.source for m in moves}
    for host in _emptying_order(state):
        if host.name in receivers:
            continue
        names = sorted(state.on_host[host.name], key=lambda n: (-state.demand[n].cap.mem_mib, n))
        if len(moves) + len(names) > budget:
            break
        if not all(n in movable for n in names):
            continue
        emptied = _empty(state, host, names, receivers)
        if emptied is None:
            continue
        moves.extend(emptied)
    return moves


def relieve(state: ClusterState, budget: int, movable: set[str]) -> list[Move]:
    """Moves off hosts loaded above their usable capacity: smallest memory first (shortest migration), each to
    the fullest other host that holds it within the target, else to an empty host."""
    moves: list[Move] = []
    for host in [h for h in state.eligible_hosts() if _over(h)]:
        names = sorted((n for n in state.on_host[host.name] if n in movable),
                       key=lambda n: (state.demand[n].cap.mem_mib, -state.demand[n].cap.cpu_m, n))
        for name in names:
            if not _over(host) or len(moves) >= budget:
                break
            dest = _fullest_fit(state, name, host) or _empty_fit(state, name, host)
            if dest is None:
                continue
            gain = state.move_delta(name, dest.name)[0]
            reason = f"consolidate: relieve {host.name} at {host.percent()}; to {dest.name} at {dest.percent()}"
            moves.append(make_move(state, name, dest.name, reason, gain))
            state.apply(name, dest.name)
    return moves


def _over(host: HostLoad) -> bool:
    return host.cap_cpu > host.usable_cpu or host.cap_mem > host.usable_mem


def _empty_fit(state: ClusterState, vm: str, source: HostLoad) -> HostLoad | None:
    need = state.demand[vm].cap
    for host in sorted(state.eligible_hosts(), key=lambda h: (-h.capacity.cpu_m, h.name)):
        empty = host is not source and not state.on_host[host.name]
        if empty and host.fits(need) and placement_allows(state.vms[vm], host.host, state):
            return host
    return None


def _emptying_order(state: ClusterState) -> list[HostLoad]:
    hosts = [h for h in state.eligible_hosts() if state.on_host[h.name]]
    return sorted(hosts, key=lambda h: (len(state.on_host[h.name]), h.util, h.name))


def _empty(state: ClusterState, host: HostLoad, names: list[str], receivers: set[str]) -> list[Move] | None:
    """Move every VM in ``names`` off ``host``; None (and nothing applied) when one does not fit."""
    done: list[Move] = []
    for name in names:
        dest = _fullest_fit(state, name, host)
        if dest is None:
            for move in reversed(done):
                state.apply(move.vm, move.source)
                state.moved.discard(move.vm)
            return None
        gain = state.move_delta(name, dest.name)[0]
        reason = f"consolidate: empty {host.name} so it can be powered off; to {dest.name} at {dest.percent()}"
        done.append(make_move(state, name, dest.name, reason, gain))
        state.apply(name, dest.name)
    receivers.update(move.dest for move in done)
    return done


def _fullest_fit(state: ClusterState, vm: str, source: HostLoad) -> HostLoad | None:
    """The most utilised other eligible host holding ``vm`` within the consolidation target."""
    need = state.demand[vm].cap
    permille = state.policy.consolidate_target_pct * 10
    best: HostLoad | None = None
    for host in state.eligible_hosts():
        if host is source or not state.on_host[host.name] or not _within(host, need, permille):
            continue
        if placement_allows(state.vms[vm], host.host, state) and (best is None or host.util > best.util):
            best = host
    return best


def _within(host: HostLoad, need: Resources, permille: int) -> bool:
    target = host.usable.scaled(permille)
    return host.cap_cpu + need.cpu_m <= target.cpu_m and host.cap_mem + need.mem_mib <= target.mem_mib


def idle_hosts(state: ClusterState) -> tuple[str, ...]:
    """Eligible hosts without any VM: they could be powered off."""
    return tuple(sorted(h.name for h in state.eligible_hosts() if not state.on_host[h.name]))
