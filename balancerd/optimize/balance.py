"""The balance strategy: vectorised rounds of pairwise moves, a global single-move step, then swaps.

Called by :func:`balancerd.optimize.optimizer.plan` after the drains (and by the consolidate strategy's
caller never). One code path for every cluster size: the daemon's 20 hosts, the property tests' 2..12 and the
benchmark's 10,000 hosts x 200,000 VMs.

Each round pairs the k-th most utilised eligible host above the mean with the k-th least utilised below it
and scores, in numpy (:mod:`balancerd.optimize.arrays`), moving every movable VM of each hot host to its
partner; per pair the best candidate is checked exactly on the ClusterState (placement rules, capacity, the
exact score change, anti-oscillation via :func:`~balancerd.optimize.scoring.worth_it`) and applied. When a
round finds nothing, a step scores every movable VM of the three hottest hosts against every eligible host
and takes the best single move; when that finds nothing either, a bounded number of swap steps (exchanging
two VMs between a hot and a cool host) try to break granularity locks. Best estimated gains go first, so a
small move budget takes the most valuable moves; between equal gains the cheaper move (memory and dirty
rate over the link, local disks to copy) wins. Balance moves only running, live-migratable VMs without
cooldown, pin, exclusion or a drain move in this plan. The strategy chooses TARGET hosts: a VM chosen a
second time is re-targeted (one Move from its original host; dropped if it returns there), so an early
choice that overshot can be corrected.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from balancerd.model import Move, MoveKind
from balancerd.optimize import scoring as sc
from balancerd.optimize.arrays import Arrays, Candidates, Floats, best_per_group
from balancerd.optimize.constraints import placement_allows
from balancerd.optimize.state import ClusterState, kind_of
from balancerd.optimize.steps import Step, best_swap, hot_sources, make_move, take_step

_MAX_ROUNDS = 2_000
"""Upper bound on pairing rounds (each round moves at most one VM off every hot host)."""
_SWAP_STEPS = 20
"""Upper bound on swap steps per plan (each scans hot x cool hosts' VMs in Python)."""
_GAIN_DECIMALS = 9
"""Gains equal to this many decimals are a tie, broken by migration cost (float noise is far below it)."""


def movable_vms(state: ClusterState) -> list[str]:
    """VMs a balance move may touch: running, live-migratable, on an eligible host, no VM rule against them."""
    rules = state.rules
    blocked = (state.cooldown | state.capped.keys() | state.in_flight.keys() | state.moved | rules.excluded.keys()
               | rules.pinned.keys())
    return [name for name, vm in state.vms.items()
            if name not in blocked and kind_of(vm) is MoveKind.LIVE and state.hosts[state.location[name]].eligible]


def cost_ratios(state: ClusterState, names: list[str], basis: list[str] | None = None) -> Floats:
    """Migration cost of each VM in ``names`` (memory, dirty rate, local disks) over the mean of ``basis``
    (default ``names``; 1.0 = average). The engine prices its moves on construction's basis, the movable VMs."""
    costs = _move_mib(state, names)
    base = costs if basis is None else _move_mib(state, basis)
    mean = float(base.mean()) if base.size else 1.0
    return costs / mean if mean > 0 else np.ones_like(costs)


def _move_mib(state: ClusterState, names: list[str]) -> Floats:
    return np.array([state.move_mib(n) for n in names], dtype=np.float64)


class Balancer:
    """One balance run over a ClusterState and its numpy mirror."""

    def __init__(self, state: ClusterState, budget: int) -> None:
        self.state = state
        self.budget = budget
        self.chosen: dict[str, Move] = {}
        self.origin: dict[str, str] = {}
        names = movable_vms(state)
        self.arrays = Arrays(state, names)
        self.position = {name: i for i, name in enumerate(names)}
        self.cost = cost_ratios(state, names)
        self.check = np.array([n in state.constrained or bool(state.demand[n].cap.extra) for n in names],
                              dtype=np.bool_)

    def run(self) -> list[Move]:
        swaps = _SWAP_STEPS
        for _ in range(_MAX_ROUNDS):
            if self.room() <= 0 or self.state.count < 2:
                break
            if self.round() or self.single():
                continue
            if swaps > 0 and self.room() >= 2 and self.swap():
                swaps -= 1
                continue
            break
        return list(self.chosen.values())

    def room(self) -> int:
        return self.budget - len(self.chosen)

    def round(self) -> int:
        util, mean, _, _ = self.arrays.stats()
        return self.take(self.arrays.pairs(util, mean), self.room(), paired=True)

    def single(self) -> int:
        util, mean, _, _ = self.arrays.stats()
        sources = np.array([self.arrays.index[h.name] for h in hot_sources(self.state)], dtype=np.int64)
        if sources.size == 0:
            return 0
        return self.take(self.arrays.from_sources(sources, util, mean), 1)

    def take(self, cand: Candidates, limit: int, paired: bool = False) -> int:
        """Check the best candidate per source exactly and apply those that hold; how many were applied.

        VMs with soft rules wait for the single-move step (``paired`` False), which sees every destination
        and adds the soft-rule change to the estimate; the named-resource overload change is added for every
        VM that has named resources.
        """
        _, _, std, n = self.arrays.stats()
        # the exact change of the fixed-mean standard deviation (never above the true gain; no 1/std blow-up
        # when the cluster is balanced and only overload relief, named resources included, is to be had)
        estimate = std - np.sqrt(np.maximum(0.0, std * std + cand.dssd / n)) + cand.relief
        for i in np.flatnonzero(cand.fit & self.check[cand.vm]):
            name = self.arrays.vm_names[int(cand.vm[i])]
            soft = name in self.state.rules.soft
            dest = self.arrays.host_names[int(cand.dst[i])]
            estimate[i] += self.state.soft_delta(name, dest) if soft else 0.0
            estimate[i] += self.state.named_delta(((name, dest),)) if self.state.demand[name].cap.extra else 0.0
            cand.fit[i] = not (paired and soft) and self.allowed(int(cand.vm[i]), int(cand.dst[i]))
        valid = cand.fit & (estimate * n >= self.state.policy.min_gain * self.cost[cand.vm]) & (estimate > 0)
        chosen = np.flatnonzero(valid)
        if chosen.size == 0:
            return 0
        key, cost = tie_key(estimate), self.cost[cand.vm]
        best = chosen[best_per_group(key[chosen], cand.src[chosen], cost[chosen])]
        best = best[np.lexsort((cost[best], key[best]))][:limit]
        return sum(self.apply(int(cand.vm[i]), int(cand.dst[i])) for i in best)

    def allowed(self, vm: int, dst: int) -> bool:
        name = self.arrays.vm_names[vm]
        return placement_allows(self.state.vms[name], self.state.hosts[self.arrays.host_names[dst]].host, self.state)

    def apply(self, vm: int, dst: int) -> bool:
        """Apply one move if it still holds exactly on the ClusterState."""
        state, name, dest = self.state, self.arrays.vm_names[vm], self.arrays.host_names[dst]
        target = state.hosts[dest]
        if not target.fits(state.demand[name].cap) or (self.check[vm] and not self.allowed(vm, dst)):
            return False
        gain, after = state.move_delta(name, dest)
        if not sc.worth_it(gain, state.count, self.cost[vm] * self.distance(name, dest), state.policy.min_gain):
            return False
        self.record(make_move(state, name, dest, describe(state, name, dest, state.imbalance(), after), gain))
        state.apply(name, dest)
        self.arrays.moved(vm, dst)
        return True

    def record(self, move: Move) -> None:
        """Keep one Move per VM: a VM chosen again is re-targeted (from its original host), or dropped when
        it goes back there; its gain is the sum of its steps."""
        origin = self.origin.setdefault(move.vm, move.source)
        earlier = self.chosen.pop(move.vm, None)
        if move.dest == origin:
            return
        if earlier is not None:
            move = dataclasses.replace(move, source=origin, gain=earlier.gain + move.gain)
        self.chosen[move.vm] = move

    def distance(self, vm: str, dest: str) -> float:
        """The network-distance factor of a move: ``policy.cross_domain_cost`` between failure domains."""
        domain_of = self.state.rules.domain_of
        same = domain_of.get(self.state.location[vm]) == domain_of.get(dest)
        return 1.0 if same else self.state.policy.cross_domain_cost

    def swap(self) -> bool:
        state = self.state
        for source in hot_sources(state):
            step = best_swap(state, source)
            if step is not None and self.swap_worth_it(step):
                for move in take_step(state, step):
                    self.record(move)
                    self.arrays.moved(self.position[move.vm], self.arrays.index[move.dest])
                return True
        return False

    def swap_worth_it(self, step: Step) -> bool:
        cost = sum(float(self.cost[self.position[name]]) * self.distance(name, dest) for name, dest in step.moves)
        return sc.worth_it(step.gain, self.state.count, cost, self.state.policy.min_gain)


def tie_key(estimate: Floats) -> Floats:
    """Sort key of estimated gains, best first, rounded so that equal gains tie and the cheaper move wins."""
    return np.asarray(np.round(-estimate, _GAIN_DECIMALS), dtype=np.float64)


def balance(state: ClusterState, budget: int) -> list[Move]:
    """Balance moves, at most ``budget`` of them, applied to ``state``."""
    if budget <= 0:
        return []
    return Balancer(state, budget).run()


def describe(state: ClusterState, vm: str, dest: str, before: float, after: float, swap: bool = False) -> str:
    source = state.hosts[state.location[vm]]
    target = state.hosts[dest]
    kind = " (swap)" if swap else ""
    return (f"balance{kind}: {source.name} at {source.percent()} -> {target.name} at {target.percent()}; "
            f"imbalance {before:.4f} -> {after:.4f}")
