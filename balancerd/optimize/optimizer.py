"""The optimizer's entry points: ``plan()`` and ``score()``.

Called by the daemon once per cycle, by ``balancerd plan`` (dry-run) and by ``explain()``. Pure (ARCHITECTURE.md
rule 1): values in, a frozen :class:`~balancerd.model.Plan` out; no I/O, clock, logging or randomness.

A cycle drains maintenance hosts first (those whose evacuation is proven, :mod:`balancerd.optimize.evacuation`),
brings drained VMs back to hosts out of maintenance when asked (:mod:`balancerd.optimize.restore`), then
repairs the hard rules the placement already breaks (:mod:`balancerd.optimize.repair`; repairs go first in the
ordered plan), then follows ``policy.strategy``: "balance" balances
(:mod:`balancerd.optimize.balance`) unless the cluster is inside the hysteresis band (spread of utilisation
within ``policy.imbalance_threshold_pct`` points and no eligible host over its usable capacity);
"consolidate" packs VMs to empty whole hosts (:mod:`balancerd.optimize.consolidate`) and reports the hosts
that could be powered off in ``Plan.power_off``; "drain" only drains. Then all moves are ordered safely (see
:mod:`balancerd.optimize.planner`). ``score_after`` is the score of the state the ordered plan leads to;
``lower_bound`` bounds the objective (-score) of any plan within the cycle's move budget
(:mod:`balancerd.optimize.bounds`);
``violations`` lists the placement rules the end state still breaks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from balancerd.config import DEFAULT_LINK_MIB_S, PolicyConfig
from balancerd.errors import UnknownHostError
from balancerd.model import (
    ClusterSnapshot,
    Evacuation,
    FailureRecord,
    Forecast,
    Move,
    Plan,
    Purpose,
    Restore,
    RestoreProgress,
    Skip,
)
from balancerd.optimize import bounds, drain, evacuation, feasibility, memory, planner, repair, restore
from balancerd.optimize.balance import balance, movable_vms
from balancerd.optimize.consolidate import consolidate, idle_hosts
from balancerd.optimize.engine.improve import Search, improve
from balancerd.optimize.limits import Limits
from balancerd.optimize.state import ClusterState, kind_of


@dataclass(frozen=True, slots=True)
class DrainInputs:
    """What the drain proof needs besides the snapshot: the order hosts entered maintenance (from the
    maintenance file; the rest by name), the hosts the operator forced (``balancerctl drain --force``), and the
    concurrent outgoing migrations of a draining host (``[throttle]``) for the estimated duration."""

    order: tuple[str, ...] = ()
    forced: frozenset[str] = frozenset()
    slots: int = 1
    restores: tuple[Restore, ...] = ()
    """Hosts out of maintenance whose drained VMs go back (:mod:`balancerd.optimize.restore`)."""


def score(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig) -> float:
    """Cluster score of ``snapshot`` under ``forecast``: -(imbalance + overload penalty); higher is better."""
    return ClusterState(snapshot, forecast, policy, frozenset()).score()


def plan(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig,
         cooldown: frozenset[str] = frozenset(), *, migration_mib_s: int = DEFAULT_LINK_MIB_S,
         failures: tuple[FailureRecord, ...] = (), drains: DrainInputs = DrainInputs(),
         limits: Limits = Limits(), search: Search = Search()) -> Plan:
    """The moves this cycle proposes, safely ordered, with reasons, gains, Skips and a lower bound.

    ``migration_mib_s`` is the speed a migration gets (``MigrationConfig.speed_mib_s()``): a move costs its
    memory plus what the guest dirties meanwhile at that speed. ``failures`` is the failure memory: a (VM,
    host) pair in back-off (``retry_at`` after ``snapshot.taken_at``) or at ``policy.max_failures`` is no
    destination for that VM. ``drains``: the order hosts entered maintenance, the forced ones, the migration
    slots of a draining host; a host whose whole evacuation does not fit is not drained unless forced
    (:mod:`balancerd.optimize.evacuation`; every proof is in ``Plan.drains``). ``limits``: what may start now
    (blackout windows, back-off after external moves) and the VMs at their daily cap; every move carries its
    :class:`~balancerd.model.Purpose`. ``search``: how long the engine may improve the balance strategy's
    target state (``[optimizer] time_budget_s``; the default is construction only), see :func:`_improved`.
    """
    state = ClusterState(snapshot, forecast, policy, cooldown, migration_mib_s=migration_mib_s, failures=failures,
                         capped=limits.capped, recent=limits.recent)
    replay, curve = state.copy(), state.copy()
    origin = state.copy() if search.active() else None
    before = state.score()
    budget = policy.max_moves_per_cycle
    movable = set(movable_vms(state))
    bound = bounds.lower_bound(state, _touchable(state, movable, drains, limits), budget)
    proofs = evacuation.prove(state, drains.order, drains.forced, drains.slots)
    notes: list[str] = list(limits.held)
    draining = [e.host for e in proofs if e.drains] if limits.allows(Purpose.DRAIN) else []
    moves, skips = drain.drain(state, budget, draining)
    skips.extend(_refused(state, proofs))
    back, unreturned, restores = restore.restore(state, budget - len(moves), drains.restores,
                                                 limits.waiting(Purpose.RESTORE))
    skips.extend(unreturned)
    fixes, chosen, reached = _after_drains(state, budget - len(moves) - len(back), movable, proofs, skips, notes,
                                           restores, limits)
    first = [*_tagged(fixes, Purpose.REPAIR), *_tagged(moves, Purpose.DRAIN), *_tagged(back, Purpose.RESTORE)]
    ordered, dropped = planner.order([*first, *chosen], replay, budget)
    if origin is not None and reached and policy.strategy == "balance" and (chosen or needs_balance(state)):
        fixed = {m.vm for m in first}
        better = _improved(origin, state, first, chosen, movable - fixed, search, notes)
        if better is not None:
            plain = ordered
            replay, ordered, dropped = _safer(origin, replay, (ordered, dropped), [*first, *better], budget, notes)
            chosen = better if ordered is not plain else chosen
    infeasible = feasibility.findings(replay, len(ordered))
    notes.extend(f"infeasible: {finding}" for finding in infeasible)
    return Plan(snapshot_seq=snapshot.seq, created_at=snapshot.taken_at, moves=ordered,
                score_before=before, score_after=replay.score() if ordered else before,
                strategy=_strategy(policy, moves, fixes, chosen, back), skipped=_merge(skips, dropped),
                notes=tuple(notes),
                lower_bound=min(bound, -before), violations=tuple(replay.rules.violations(replay.location)),
                power_off=idle_hosts(replay) if policy.strategy == "consolidate" else (), held=memory.held(state),
                tradeoff=_tradeoff(curve, ordered), drains=proofs, infeasible=infeasible, restores=restores,
                migration_mib=_migrated(replay, ordered))


def _tagged(moves: list[Move], purpose: Purpose) -> list[Move]:
    return [dataclasses.replace(move, purpose=purpose) for move in moves]


def _touchable(state: ClusterState, movable: set[str], drains: DrainInputs, limits: Limits) -> set[str]:
    """The VMs some plan within the limits may move: the bound must allow for them (a larger set only lowers it)."""
    found = set(movable) if limits.allows(Purpose.BALANCE) else set()
    if limits.allows(Purpose.DRAIN):
        found |= _drainable(state)
    if limits.allows(Purpose.REPAIR):
        found |= _repairable(state)
    if limits.allows(Purpose.RESTORE):
        found |= {vm for request in drains.restores for vm, _ in request.vms if vm in state.location}
    return found


def _after_drains(state: ClusterState, room: int, movable: set[str], proofs: tuple[Evacuation, ...],
                  skips: list[Skip], notes: list[str], restores: tuple[RestoreProgress, ...],
                  limits: Limits) -> tuple[list[Move], list[Move], bool]:
    """Repairs, then the strategy's moves, once no accepted drain is left unfinished by this cycle: while one
    is, they wait, so that they take none of the room its proof counted on (the proof holds cycle after
    cycle). A forced drain is finished when only its blockers are left. While a restore is unfinished,
    balancing waits too (it would fill the host with other VMs); repairs go on. Each waits, too, while
    ``limits`` does not allow its purpose (the limit's note says why). The flag: the strategy had its turn."""
    unfinished = [proof.host for proof in proofs if proof.drains and _left(state, proof)]
    if unfinished:
        notes.append(f"drain of {', '.join(unfinished)} in progress: repairs and balancing wait until it ends")
        return [], [], False
    fixes: list[Move] = []
    if limits.allows(Purpose.REPAIR):
        fixes, unfixed = repair.repair(state, room)
        skips.extend(unfixed)
    restoring = [r.host for r in restores if r.busy]
    if restoring:
        notes.append(f"restore to {', '.join(restoring)} in progress: balancing waits until it ends")
        return fixes, [], False
    if not limits.allows(Purpose.BALANCE):
        return fixes, [], False
    return fixes, _strategy_moves(state, room - len(fixes), movable - state.moved, notes), True


def _safer(origin: ClusterState, replay: ClusterState, plain: tuple[tuple[Move, ...], tuple[Skip, ...]],
           moves: list[Move], budget: int, notes: list[str]
           ) -> tuple[ClusterState, tuple[Move, ...], tuple[Skip, ...]]:
    """The improved moves in a safe order, if the state that order reaches scores above construction's ordered
    plan (the planner may drop what it cannot order) and migrates no more MiB; else construction's (``replay``
    and ``plain``)."""
    trial = origin.copy()
    ordered, dropped = planner.order(moves, trial, budget)
    more = _migrated(origin, ordered) > _migrated(origin, plain[0])
    if trial.score() > replay.score() + 1e-12 and not more:
        return trial, ordered, dropped
    why = "migrates more MiB" if more else f"scores {trial.score():.4f}, construction's {replay.score():.4f}"
    notes.append(f"improvement: its ordered plan {why}; construction's kept")
    return replay, *plain


def _migrated(state: ClusterState, moves: tuple[Move, ...]) -> int:
    return sum(state.move_mib(m.vm) for m in moves)


def _improved(origin: ClusterState, state: ClusterState, others: list[Move], chosen: list[Move], free: set[str],
              search: Search, notes: list[str]) -> list[Move] | None:
    """The balance moves after the engine improved construction's target state within ``search``'s budget
    (:mod:`balancerd.optimize.engine.improve`); None when it found nothing better or would pass the move
    budget. Whether they are kept is :func:`_safer`'s call, on the safely ordered plans' scores."""
    end = origin.copy()  # construction's moves as the plan will hold them
    for move in [*others, *chosen]:
        end.apply(move.vm, move.dest)
    # a VM the engine may not move whose moves end where it started (repaired, then balanced back) is one of
    # the plan's moves the model does not see as a VM away from its host
    unseen = {m.vm for m in [*others, *chosen] if m.vm not in free and end.location[m.vm] == origin.location[m.vm]}
    found = improve(origin, end, free, search, state.policy.max_moves_per_cycle - len(unseen))
    if found is None:
        return None
    trial = origin.copy()
    for move in others:
        trial.apply(move.vm, move.dest)
    kept = {m.vm: m for m in chosen}
    better = [m for m in chosen if m.vm not in free]  # balance moves of VMs the engine had frozen stay
    for move in better:
        trial.apply(move.vm, move.dest)
    for vm in sorted(free):
        dest = found.moved.get(vm, end.location[vm])
        if dest == origin.location[vm]:
            continue
        prior = kept.get(vm)
        move = prior if prior is not None and prior.dest == dest else _engine_move(trial, vm, dest)
        trial.apply(vm, dest)
        better.append(move)
    if len({m.vm for m in [*others, *better]}) > state.policy.max_moves_per_cycle:
        notes.append("improvement: its plan would pass max_moves_per_cycle; construction's kept")
        return None
    notes.append(f"improvement: engine objective {found.before} -> {found.after} "
                 f"({len(better)} balance moves, construction had {len(chosen)})")
    return better


def _engine_move(state: ClusterState, vm: str, dest: str) -> Move:
    spec = state.vms[vm]
    gain, _ = state.move_delta(vm, dest)
    return Move(vm=vm, source=state.location[vm], dest=dest, kind=kind_of(spec), gain=gain,
                reason="improvement: a better target than construction's (the engine's search)",
                memory_mib=spec.size.mem_mib)


def _left(state: ClusterState, proof: Evacuation) -> bool:
    """Whether a VM of the proof's evacuation is still on its host (neither in flight nor a blocker)."""
    blocked = {b.vm for b in proof.blockers}
    return any(name not in state.in_flight and name not in blocked for name in state.on_host[proof.host])


def _tradeoff(state: ClusterState, ordered: tuple[Move, ...]) -> tuple[float, ...]:
    """The objective after each prefix of ``ordered``, replayed on ``state`` (a copy of the starting state)."""
    curve = [-state.score()]
    for move in ordered:
        state.apply(move.vm, move.dest)
        curve.append(-state.score())
    return tuple(curve)


def _refused(state: ClusterState, proofs: tuple[Evacuation, ...]) -> list[Skip]:
    """A Skip for every VM on a host whose drain is refused (its own blocker reason after the refusal)."""
    found: list[Skip] = []
    for proof in proofs:
        if proof.drains:
            continue
        why = {b.vm: b.reasons for b in proof.blockers}
        for name in sorted(n for n in state.on_host[proof.host] if n not in state.in_flight):
            found.append(Skip(name, evacuation.refusal(proof) + why.get(name, ())))
    return found


def _repairable(state: ClusterState) -> set[str]:
    """VMs a repair may move (any VM under a hard or group rule, cooldown and cold ones included)."""
    return {name for name in state.rules.constrained if name in state.location and name not in state.in_flight}


def _drainable(state: ClusterState) -> set[str]:
    """VMs a drain may move off maintenance hosts: the bound must allow for them (a larger set only lowers it)."""
    return {name for name, where in state.location.items()
            if state.hosts[where].host.maintenance and name not in state.in_flight}


def _strategy_moves(state: ClusterState, room: int, movable: set[str], notes: list[str]) -> list[Move]:
    """The moves of ``policy.strategy`` after the drains."""
    strategy = state.policy.strategy
    if strategy == "consolidate":
        return consolidate(state, room, movable - state.moved)
    if strategy == "drain":
        notes.append("strategy drain: only maintenance hosts are emptied")
        return []
    if needs_balance(state):
        return balance(state, room)
    notes.append(hysteresis_note(state))
    return []


def needs_balance(state: ClusterState) -> bool:
    """False inside the hysteresis band: spread within the threshold and nothing overloaded."""
    return state.spread() * 100 > state.policy.imbalance_threshold_pct or state.overloaded()


def hysteresis_note(state: ClusterState) -> str:
    return (f"balanced: utilisation spread {state.spread() * 100:.1f} points is within the threshold of "
            f"{state.policy.imbalance_threshold_pct} and no host is over its usable capacity")


def _strategy(policy: PolicyConfig, drains: list[Move], fixes: list[Move], chosen: list[Move],
              back: list[Move]) -> str:
    name = "balance" if policy.strategy == "drain" else policy.strategy
    parts = ((["repair"] if fixes else []) + (["drain"] if drains else []) + (["restore"] if back else [])
             + ([name] if chosen else []))
    return "+".join(parts) or policy.strategy


def _merge(skips: list[Skip], dropped: tuple[Skip, ...]) -> tuple[Skip, ...]:
    return (*skips, *dropped)


def check_drain(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig, host: str,
                cooldown: frozenset[str] = frozenset(), *, migration_mib_s: int = DEFAULT_LINK_MIB_S,
                failures: tuple[FailureRecord, ...] = (), drains: DrainInputs = DrainInputs()) -> Evacuation:
    """The evacuation ``host`` would get if it entered maintenance now (after the hosts already in it), or
    the one it has if it is in maintenance; nothing changes (``balancerctl drain --check``)."""
    known = tuple(h.name for h in snapshot.hosts)
    if host not in known:
        raise UnknownHostError(host, known)
    marked = dataclasses.replace(snapshot, hosts=tuple(
        dataclasses.replace(h, maintenance=True) if h.name == host else h for h in snapshot.hosts))
    state = ClusterState(marked, forecast, policy, cooldown, migration_mib_s=migration_mib_s, failures=failures)
    already = snapshot.host(host).maintenance
    order = evacuation.drain_order(state, drains.order)
    if not already:
        order = [*(name for name in order if name != host), host]
    proofs = evacuation.prove(state, order, drains.forced, drains.slots)
    return next(p for p in proofs if p.host == host)
