"""The safe path: order chosen moves so that no host is over capacity in any intermediate state.

Called by :func:`balancerd.optimize.optimizer.plan` after the strategies chose target places (ARCHITECTURE.md
rule 5). A migrating VM counts on both hosts while it moves, so move k may start only when its destination
holds the VM on top of its state after moves 0..k-1, within the host's FULL capacity. Moves keep the order
the strategies gave (drains first) whenever that is safe. When no pending move can start (a cycle such as a
swap between two full hosts), one VM of the cycle is parked on a third eligible host with room (within its
usable capacity) that its placement rules allow and moves on from there later; a parked VM is the only
one that appears twice, and its first move's reason starts with "park:". If no host can take it, or parking
would exceed the move budget, the moves that cannot be ordered are dropped and reported as Skips.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence

from balancerd.model import Move, Skip
from balancerd.optimize.constraints import placement_allows
from balancerd.optimize.state import ClusterState, HostLoad


def order(moves: Sequence[Move], state: ClusterState, budget: int) -> tuple[tuple[Move, ...], tuple[Skip, ...]]:
    """Safe order of ``moves`` starting from ``state`` (which is advanced), and Skips for moves dropped."""
    pending = deque(moves)
    ordered: list[Move] = []
    parked: set[str] = set()
    while pending:
        index = _first_startable(pending, state)
        if index is not None:
            _run(pending.popleft() if index == 0 else _pop(pending, index), state, ordered)
            continue
        parking = _park(pending, state, parked) if len(ordered) + len(pending) < budget else None
        if parking is None:
            return tuple(ordered), tuple(_stuck(move, move.vm in parked) for move in pending)
        index, park_move = parking
        _run(park_move, state, ordered)
        parked.add(park_move.vm)
        pending[index] = dataclasses.replace(pending[index], source=park_move.dest,
                                             reason=f"{pending[index].reason} (via {park_move.dest})")
    return tuple(ordered), ()


def _pop(pending: deque[Move], index: int) -> Move:
    move = pending[index]
    del pending[index]
    return move


def startable(move: Move, state: ClusterState) -> bool:
    """True when ``move``'s destination holds the VM on top of its current load, within full capacity (named
    resources included)."""
    need = state.demand[move.vm].cap
    dest = state.hosts[move.dest]
    if not dest.fits_full(need):
        return False
    load = state.extra_load.get(move.dest, {})
    return all(load.get(name, 0) + amount <= dest.capacity.amount(name) for name, amount in need.extra if amount > 0)


def _first_startable(pending: deque[Move], state: ClusterState) -> int | None:
    for index, move in enumerate(pending):
        if startable(move, state):
            return index
    return None


def _run(move: Move, state: ClusterState, ordered: list[Move]) -> None:
    ordered.append(move)
    state.apply(move.vm, move.dest)


def _park(pending: deque[Move], state: ClusterState, parked: set[str]) -> tuple[int, Move] | None:
    """A parking move for one VM whose leaving unblocks another pending move, and that VM's index."""
    blocked_dests = {move.dest for move in pending}
    for index, move in enumerate(pending):
        if move.vm in parked or move.source not in blocked_dests:
            continue
        host = _parking_host(move, state)
        if host is not None:
            reason = f"park: {move.vm} waits on {host.name} until {move.dest} has room (breaks a move cycle)"
            return index, dataclasses.replace(move, dest=host.name, reason=reason, gain=0.0)
    return None


def _parking_host(move: Move, state: ClusterState) -> HostLoad | None:
    """The least utilised eligible third host that holds the VM within its usable capacity."""
    need = state.demand[move.vm].cap
    spec = state.vms[move.vm]
    fitting = [h for h in state.eligible_hosts() if h.name not in (move.source, move.dest) and h.fits(need)
               and placement_allows(spec, h.host, state)]
    return min(fitting, key=lambda h: (h.util, h.name), default=None)


def _stuck(move: Move, parked: bool) -> Skip:
    stays = f"; it stays on its parking host {move.source}" if parked else ""
    return Skip(move.vm, (f"could not be ordered safely: {move.dest} has no room while other moves are "
                          f"pending and no third host can park it within the move budget{stays}",
                          f"was planned as: {move.reason}"))
