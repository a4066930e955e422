"""The optimizer's entry points: ``plan()`` and ``score()``.

Called by the daemon once per cycle, by ``balancerd plan`` (dry-run) and by ``explain()``. Pure (DESIGN
rule 1): values in, a frozen :class:`~balancerd.model.Plan` out; no I/O, clock, logging or randomness.

A cycle drains maintenance hosts first, then balances unless the cluster is inside the hysteresis band
(spread of utilisation within ``policy.imbalance_threshold_pct`` points and no eligible host over its usable
capacity), then orders all moves safely (see :mod:`balancerd.optimize.planner`). ``score_after`` is the
score of the state the ordered plan leads to.
"""

from __future__ import annotations

from balancerd.config import PolicyConfig
from balancerd.model import ClusterSnapshot, Forecast, Move, Plan, Skip
from balancerd.optimize import planner, strategies
from balancerd.optimize.state import ClusterState


def score(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig) -> float:
    """Cluster score of ``snapshot`` under ``forecast``: -(imbalance + overload penalty); higher is better."""
    return ClusterState(snapshot, forecast, policy, frozenset()).score()


def plan(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig,
         cooldown: frozenset[str] = frozenset()) -> Plan:
    """The moves this cycle proposes, safely ordered, with reasons, gains and Skips."""
    state = ClusterState(snapshot, forecast, policy, cooldown)
    before = state.score()
    budget = policy.max_moves_per_cycle
    drains, skips = strategies.drain(state, budget)
    notes: list[str] = []
    balances: list[Move] = []
    if needs_balance(state):
        balances = strategies.balance(state, budget - len(drains))
    else:
        notes.append(hysteresis_note(state))
    replay = ClusterState(snapshot, forecast, policy, cooldown)
    ordered, dropped = planner.order([*drains, *balances], replay, budget)
    return Plan(snapshot_seq=snapshot.seq, created_at=snapshot.taken_at, moves=ordered,
                score_before=before, score_after=replay.score() if ordered else before,
                strategy=_strategy(drains, balances), skipped=_merge(skips, dropped), notes=tuple(notes))


def needs_balance(state: ClusterState) -> bool:
    """False inside the hysteresis band: spread within the threshold and nothing overloaded."""
    return state.spread() * 100 > state.policy.imbalance_threshold_pct or state.overloaded()


def hysteresis_note(state: ClusterState) -> str:
    return (f"balanced: utilisation spread {state.spread() * 100:.1f} points is within the threshold of "
            f"{state.policy.imbalance_threshold_pct} and no host is over its usable capacity")


def _strategy(drains: list[Move], balances: list[Move]) -> str:
    parts = (["drain"] if drains else []) + (["balance"] if balances else [])
    return "+".join(parts) or "balance"


def _merge(skips: list[Skip], dropped: tuple[Skip, ...]) -> tuple[Skip, ...]:
    return (*skips, *dropped)
