"""The drain proof: a host's whole evacuation, computed before any of its VMs moves.

Called by :func:`balancerd.optimize.optimizer.plan` (every host in maintenance, every cycle: a host whose
evacuation does not fit is not drained at all, unless the operator forced it) and by :func:`check` (for
``balancerctl drain --check HOST``, through the daemon's control API or ``balancerd``'s offline path).
Pure: values in, :class:`~balancerd.model.Evacuation` out.

Hosts in maintenance are taken in the order they entered it (``order``; the rest by name). Each host's
evacuation is the drain strategy itself (:func:`balancerd.optimize.drain.drain_host`: every VM, largest first,
to the best eligible host where it fits within usable capacity and its rules, pre-flight facts and failure
memory allow it), with no move budget, on a copy of the working state that already holds the evacuations of
the hosts accepted before it, and then put in a safe order by the planner. A host is accepted when every VM
has a place (its state becomes the base of the next host) or when it is forced; a refused host's VMs stay,
so they take no room. Because the daemon's drain runs the same strategy in the same order on the same state,
the first ``max_moves_per_cycle`` moves of an accepted evacuation are what the cycle plans.
"""

from __future__ import annotations

from collections.abc import Sequence

from balancerd.model import Blocker, Evacuation, EvacuationStep, Move, Skip
from balancerd.optimize import drain as drain_strategy
from balancerd.optimize import planner
from balancerd.optimize import scoring as sc
from balancerd.optimize.state import ClusterState


def drain_order(state: ClusterState, order: Sequence[str]) -> list[str]:
    """Hosts in maintenance: those in ``order`` first, as listed, then the rest by name."""
    maintenance = {name for name, load in state.hosts.items() if load.host.maintenance}
    listed = [name for name in dict.fromkeys(order) if name in maintenance]
    return listed + sorted(maintenance - set(listed))


def prove(state: ClusterState, order: Sequence[str], forced: frozenset[str], slots: int) -> tuple[Evacuation, ...]:
    """The evacuation of every host in maintenance; ``state`` is left as it was."""
    base = state.copy()
    found: list[Evacuation] = []
    for host in drain_order(state, order):
        evacuation, after = evacuate(base, host, host in forced, slots, tuple(e.host for e in found if e.drains))
        if evacuation.drains:
            base = after
        found.append(evacuation)
    return tuple(found)


def evacuate(base: ClusterState, host: str, forced: bool, slots: int,
             before: tuple[str, ...] = ()) -> tuple[Evacuation, ClusterState]:
    """The evacuation of ``host`` from ``base`` (left as it was), and the state its ordered moves lead to."""
    trial, replay = base.copy(), base.copy()
    moves, skips = drain_strategy.drain_host(trial, trial.hosts[host], len(trial.vms) + 1)
    ordered, dropped = planner.order(moves, replay, 2 * len(moves) + 1)
    blockers = tuple(_blocker(skip) for skip in (*skips, *dropped))
    steps = tuple(_step(replay, move) for move in ordered)
    evacuation = Evacuation(host=host, feasible=not blockers, moves=steps, blockers=blockers,
                            estimated_s=sum(s.seconds for s in steps) / max(1, slots), forced=forced,
                            before=before)
    return evacuation, replay


def _step(state: ClusterState, move: Move) -> EvacuationStep:
    speed = state.migration_mib_s
    vm = state.vms[move.vm]
    mib = sc.move_mib(vm.size, vm.dirty_rate_mib_s, speed)
    return EvacuationStep(vm=move.vm, dest=move.dest, kind=move.kind, seconds=mib / speed if speed > 0 else 0.0)


def _blocker(skip: Skip) -> Blocker:
    return Blocker(vm=skip.vm, reasons=skip.reasons)


def refusal(evacuation: Evacuation) -> tuple[str, ...]:
    """The Skip reasons of a VM on a host whose drain is refused."""
    names = ", ".join(b.vm for b in evacuation.blockers[:5])
    more = f" and {len(evacuation.blockers) - 5} more" if len(evacuation.blockers) > 5 else ""
    return (f"drain of {evacuation.host} refused: its evacuation does not fit ({len(evacuation.blockers)} VM(s) "
            f"with nowhere to go: {names}{more}); no VM leaves it until it fits, or "
            f"'balancerctl drain --force {evacuation.host}' drains what fits",)
