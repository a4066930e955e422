"""The consolidate strategy: pack VMs onto fewer hosts so that whole hosts can be powered off.

Called by :func:`balancerd.optimize.optimizer.plan` when ``policy.strategy`` is "consolidate" (after the
drains). Hosts are emptied one at a time, the least loaded first (fewest VMs, then lowest utilisation): every
VM of the host goes, largest first, to the FULLEST other eligible host that still holds it within
``policy.consolidate_target_pct`` % of its usable capacity and whose placement rules allow it (best-fit
decreasing). A host is emptied completely or not at all: when one of its VMs finds no place or cannot move
(pinned, excluded, cold, in cooldown, at its daily cap), its tentative moves are undone and the next host is
tried; the strategy stops where the move budget would run out half-way. Hosts that received VMs are never
emptied later in the same plan. Under ``policy.max_moves_per_vm_per_day`` a VM that already moved today and
now makes its last move prefers a host that holds a VM with no moves left (:class:`Anchors`), and relief moves
the VMs with moves to spare first, so that the hosts which can still be emptied stay emptiable.
:func:`idle_hosts` names the eligible hosts left without VMs: the ones that could be powered off.
"""

from __future__ import annotations

from collections import Counter

from balancerd.model import Move, Resources
from balancerd.optimize.constraints import placement_allows
from balancerd.optimize.state import ClusterState, HostLoad
from balancerd.optimize.steps import make_move


class Anchors:
    """Under a per-VM daily cap, the hosts holding a VM that has spent its moves: they cannot be emptied until the
    day rolls on, so a VM making its last move goes to one of them when one holds it, and the other hosts stay
    free to be emptied later."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.spent = Counter(state.location[n] for n in state.vms if self._spent(n))

    def _spent(self, vm: str) -> bool:
        left = self.state.moves_left(vm)
        return left is not None and left <= 0

    def holds_spent(self, host: str) -> bool:
        return self.spent[host] > 0

    def last_move(self, vm: str) -> bool:
        """Whether moving ``vm`` now spends its last move of the day, after one or more earlier ones. Not a first
        move under a cap of 1: the first packing then decides the whole day, and best fit packs it tighter
        (2011-03-09 replay: 63 hosts against 66 when anchors came first)."""
        return self.state.moves_left(vm) == 1 and self.state.recent.get(vm, 0) > 0

    def move(self, vm: str, dest: str) -> None:
        self.state.apply(vm, dest)
        if self._spent(vm):
            self.spent[dest] += 1

    def undo(self, move: Move) -> None:
        if self._spent(move.vm):
            self.spent[move.dest] -= 1
        self.state.apply(move.vm, move.source)
        self.state.moved.discard(move.vm)


def consolidate(state: ClusterState, budget: int, movable: set[str]) -> list[Move]:
    """Moves that empty whole hosts, at most ``budget`` of them, applied to ``state``."""
    anchors = Anchors(state)
    moves: list[Move] = relieve(state, budget, movable, anchors)
    receivers: set[str] = {m.dest for m in moves} | {m.source for m in moves}
    for host in _emptying_order(state):
        if host.name in receivers:
            continue
        names = sorted(state.on_host[host.name], key=lambda n: (-state.demand[n].cap.mem_mib, n))
        if len(moves) + len(names) > budget:
            break
        if not all(n in movable for n in names):
            continue
        emptied = _empty(state, host, names, receivers, anchors)
        if emptied is None:
            continue
        moves.extend(emptied)
    return moves


def relieve(state: ClusterState, budget: int, movable: set[str], anchors: Anchors) -> list[Move]:
    """Moves off hosts loaded above their usable capacity: smallest memory first (shortest migration; under a
    daily cap the VMs with moves to spare first), each to the fullest other host that holds it within the
    target, else to an empty host."""
    moves: list[Move] = []
    for host in [h for h in state.eligible_hosts() if _over(h)]:
        names = sorted((n for n in state.on_host[host.name] if n in movable),
                       key=lambda n: (anchors.last_move(n), state.demand[n].cap.mem_mib, -state.demand[n].cap.cpu_m, n))
        for name in names:
            if not _over(host) or len(moves) >= budget:
                break
            dest = _fullest_fit(state, name, host, anchors) or _empty_fit(state, name, host)
            if dest is None:
                continue
            gain = state.move_delta(name, dest.name)[0]
            reason = f"consolidate: relieve {host.name} at {host.percent()}; to {dest.name} at {dest.percent()}"
            moves.append(make_move(state, name, dest.name, reason, gain))
            anchors.move(name, dest.name)
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


def _empty(state: ClusterState, host: HostLoad, names: list[str], receivers: set[str],
           anchors: Anchors) -> list[Move] | None:
    """Move every VM in ``names`` off ``host``; None (and nothing applied) when one does not fit."""
    done: list[Move] = []
    for name in names:
        dest = _fullest_fit(state, name, host, anchors)
        if dest is None:
            for move in reversed(done):
                anchors.undo(move)
            return None
        gain = state.move_delta(name, dest.name)[0]
        reason = f"consolidate: empty {host.name} so it can be powered off; to {dest.name} at {dest.percent()}"
        done.append(make_move(state, name, dest.name, reason, gain))
        anchors.move(name, dest.name)
    receivers.update(move.dest for move in done)
    return done


def _fullest_fit(state: ClusterState, vm: str, source: HostLoad, anchors: Anchors) -> HostLoad | None:
    """The most utilised other eligible host holding ``vm`` within the consolidation target; for a VM making its
    last move of the day, one that already holds a VM which spent its moves, when one does."""
    need = state.demand[vm].cap
    permille = state.policy.consolidate_target_pct * 10
    last = anchors.last_move(vm)
    best: HostLoad | None = None
    best_key = (False, 0.0)
    for host in state.eligible_hosts():
        if host is source or not state.on_host[host.name] or not _within(host, need, permille):
            continue
        key = (last and anchors.holds_spent(host.name), host.util)
        if (best is None or key > best_key) and placement_allows(state.vms[vm], host.host, state):
            best, best_key = host, key
    return best


def _within(host: HostLoad, need: Resources, permille: int) -> bool:
    target = host.usable.scaled(permille)
    return host.cap_cpu + need.cpu_m <= target.cpu_m and host.cap_mem + need.mem_mib <= target.mem_mib


def idle_hosts(state: ClusterState) -> tuple[str, ...]:
    """Eligible hosts without any VM: they could be powered off."""
    return tuple(sorted(h.name for h in state.eligible_hosts() if not state.on_host[h.name]))
