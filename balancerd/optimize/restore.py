"""The restore strategy: VMs drained off a host go back to it once it left maintenance (issue 21 item 1).

Called by :func:`balancerd.optimize.optimizer.plan` after the drains and before repairs and balancing, for
every :class:`~balancerd.model.Restore` the service hands in (``[maintenance] restore`` or ``balancerctl
maintenance exit HOST --restore``; the service keeps the drained-from record). A VM goes back when it still
exists, still runs where its drain put it (one the operator or another tool moved elsewhere since is left
there), is not migrating, and the host takes it: it is eligible again, the VM's placement rules, the pre-flight
facts and the failure memory allow it there, and it fits within the usable capacity. Cooldown does not apply (the
drain itself moved the VM a moment ago). Largest VMs go first (the hardest to fit), within the move budget; the
rest wait for later cycles. Every VM gets a state in :class:`~balancerd.model.RestoreProgress`: one the host
cannot take now is ``blocked`` with its first reason (it is re-tried every cycle while the request is open, but
holds nothing up: a restore is finished when nothing is moving back or waiting for budget). A host that takes
nothing now (in maintenance again, unreachable) keeps its restore waiting, with nothing moved.
"""

from __future__ import annotations

from balancerd.model import Move, Restore, RestoreProgress, Skip, Vm
from balancerd.optimize.constraints import DRAIN_VM_RULES, FIT_RULES, HOST_RULES, PLACEMENT_RULES, reasons
from balancerd.optimize.state import ClusterState
from balancerd.optimize.steps import make_move

_DEST_RULES = HOST_RULES + PLACEMENT_RULES + FIT_RULES


def restore(state: ClusterState, budget: int, requests: tuple[Restore, ...], wait: str = ""
            ) -> tuple[list[Move], list[Skip], tuple[RestoreProgress, ...]]:
    """Moves back to each requested host (applied to ``state``), at most ``budget``, Skips and progress. With
    ``wait`` (why restores may not start now, e.g. a blackout window) nothing moves: every VM not back yet
    is pending with that reason."""
    moves: list[Move] = []
    skips: list[Skip] = []
    progress = []
    for request in requests:
        more, skipped, done = _restore_host(state, request, budget - len(moves), wait)
        moves.extend(more)
        skips.extend(skipped)
        progress.append(done)
    return moves, skips, tuple(progress)


def _restore_host(state: ClusterState, request: Restore, budget: int, wait: str
                  ) -> tuple[list[Move], list[Skip], RestoreProgress]:
    host = request.host
    load = state.hosts.get(host)
    if load is None or not load.eligible:
        why = f"{host} is not in the snapshot" if load is None else (
            f"{host} is in maintenance" if load.host.maintenance else f"{host} is unreachable")
        return [], [], RestoreProgress(host, host_problem=why)
    back, gone, pending, moving, blocked_vms = [], [], [], [], []
    moves: list[Move] = []
    skips: list[Skip] = []
    for vm, placed in _largest_first(state, request):
        where = state.location.get(vm)
        if where == host:
            back.append(vm)
        elif where is None or where != placed:
            gone.append((vm, "no longer in the cluster" if where is None else f"moved to {where} since the drain"))
        elif wait or len(moves) >= budget:
            pending.append(vm)
            why = wait or "the move budget of this cycle is used up"
            skips.append(Skip(vm, (f"restore to {host} deferred: {why}",)))
        else:
            blocked = _blocked(state, state.vms[vm], host)
            if blocked:
                blocked_vms.append((vm, blocked[0]))
                skips.append(Skip(vm, (f"restore to {host} waits", *blocked)))
                continue
            moves.append(make_move(state, vm, host, f"restore: back to {host} after its maintenance",
                                   state.move_delta(vm, host)[0]))
            state.apply(vm, host)
            moving.append(vm)
    return moves, skips, RestoreProgress(host, tuple(back), tuple(moving), tuple(pending), tuple(gone),
                                         tuple(blocked_vms))


def _largest_first(state: ClusterState, request: Restore) -> list[tuple[str, str]]:
    def size(item: tuple[str, str]) -> tuple[int, int, str]:
        demand = state.demand.get(item[0])
        return (0, 0, item[0]) if demand is None else (-demand.cap.mem_mib, -demand.cap.cpu_m, item[0])
    return sorted(request.vms, key=size)


def _blocked(state: ClusterState, vm: Vm, host: str) -> tuple[str, ...]:
    """Why ``vm`` cannot go back to ``host`` now (empty when it can)."""
    target = state.hosts[host].host
    return reasons(vm, target, state, DRAIN_VM_RULES) + reasons(vm, target, state, _DEST_RULES)
