"""The engine's incremental state (usages, counts, cost) and its move evaluation.

Called by the engine's moves, annealing, sweep and neighbourhoods (:mod:`balancerd.optimize.engine.search`). Every
move is applied in O(R + |service|) and every shift is evaluated against all machines at once with numpy (capacity,
transient usage, conflict, spread and dependency masks; load, balance and move-cost deltas). Compound moves (swaps,
chains) are applied tentatively and checked with :meth:`State.locally_feasible`, then kept or undone: applying a
move and its inverse restores the state exactly, since all quantities are integers."""

from __future__ import annotations

import numpy as np

from balancerd.optimize.engine.costs import machine_costs, objective, service_neighborhoods, usage
from balancerd.optimize.engine.model import BoolArray, IntArray, Model


class State:
    """Mutable search state for one model and its original assignment."""

    def __init__(self, inst: Model, original: IntArray, assignment: IntArray | None = None) -> None:
        self.inst = inst
        self.orig = original
        self.tmask = inst.transient
        self.n_loc = int(inst.location.max(initial=0)) + 1
        self.svc_procs = _group(inst.service, inst.n_services)
        self.deps = [np.array(d, dtype=np.int64) for d in inst.dependencies]
        self.rdeps = _reverse(inst.dependencies, inst.n_services)
        self.pmc_w = inst.process_move_cost * inst.weight_process_move
        self.reset(original.copy() if assignment is None else assignment.copy())

    def reset(self, assignment: IntArray) -> None:
        """Rebuild every derived quantity from an assignment."""
        inst = self.inst
        self.assign = assignment
        self.use = usage(inst, assignment)
        self.trans = self.use.copy()
        moved = assignment != self.orig
        np.add.at(self.trans, self.orig[moved], inst.requirement[moved])
        self.free = inst.capacity - np.where(self.tmask[None, :], self.trans, self.use)
        self.mcost = machine_costs(inst, self.use)
        self.loc_count = np.zeros((inst.n_services, self.n_loc), dtype=np.int64)
        np.add.at(self.loc_count, (inst.service, inst.location[assignment]), 1)
        self.n_locs = (self.loc_count > 0).sum(axis=1)
        self.nb_count = service_neighborhoods(inst, assignment)
        self.moved = np.bincount(inst.service[moved], minlength=inst.n_services).astype(np.int64)
        self.hist = np.bincount(self.moved, minlength=int(inst.service.shape[0]) + 2).astype(np.int64)
        self.max_moved = int(self.moved.max(initial=0))
        self.n_moved = int(np.count_nonzero(moved))
        self.size_moved = 0 if inst.move_size is None else int(inst.move_size[moved].sum())
        self.total = objective(inst, self.orig, assignment)

    # ----- applying moves -------------------------------------------------------------------------------

    def move(self, p: int, b: int) -> None:
        """Move process p to machine b without any check, keeping every quantity (and the total) exact."""
        inst = self.inst
        a = int(self.assign[p])
        if a == b:
            return
        o = int(self.orig[p])
        req = inst.requirement[p]
        s = int(inst.service[p])
        old_machine = self.mcost[a] + self.mcost[b]
        self.use[a] -= req
        self.use[b] += req
        if a != o:
            self.trans[a] -= req
        if b != o:
            self.trans[b] += req
        self._refresh_machine(a)
        self._refresh_machine(b)
        self.total += int(self.mcost[a] + self.mcost[b] - old_machine)
        self.total += self._move_cost_change(p, a, b, o, s)
        place = inst.place_cost.get(p)
        if place is not None:
            self.total += int(place[b] - place[a])
        self.n_moved += int(b != o) - int(a != o)
        self.size_moved += (int(b != o) - int(a != o)) * inst.size_of(p)
        self._update_counts(s, a, b)
        self.assign[p] = b

    def _refresh_machine(self, m: int) -> None:
        inst = self.inst
        row = self.use[m : m + 1]
        self.free[m] = inst.capacity[m] - np.where(self.tmask, self.trans[m], self.use[m])
        self.mcost[m] = machine_costs(inst, row, np.array([m]))[0]

    def _move_cost_change(self, p: int, a: int, b: int, o: int, s: int) -> int:
        inst = self.inst
        change = int(inst.move_costs(o, b) - inst.move_costs(o, a)) * inst.weight_machine_move
        if a == o:
            change += int(self.pmc_w[p]) + self._set_moved(s, 1)
        elif b == o:
            change -= int(self.pmc_w[p]) - self._set_moved(s, -1)
        return change

    def _set_moved(self, s: int, step: int) -> int:
        """Change service s's moved count; returns the change of the service move cost."""
        before = self.max_moved
        k = int(self.moved[s])
        self.hist[k] -= 1
        self.hist[k + step] += 1
        self.moved[s] = k + step
        if k + step > self.max_moved:
            self.max_moved = k + step
        while self.max_moved > 0 and self.hist[self.max_moved] == 0:
            self.max_moved -= 1
        return (self.max_moved - before) * self.inst.weight_service_move

    def _update_counts(self, s: int, a: int, b: int) -> None:
        inst = self.inst
        la, lb = int(inst.location[a]), int(inst.location[b])
        if la != lb:
            self.loc_count[s, la] -= 1
            self.loc_count[s, lb] += 1
            self.n_locs[s] += int(self.loc_count[s, lb] == 1) - int(self.loc_count[s, la] == 0)
        na, nb = int(inst.neighborhood[a]), int(inst.neighborhood[b])
        self.nb_count[s, na] -= 1
        self.nb_count[s, nb] += 1

    # ----- checks ---------------------------------------------------------------------------------------

    def locally_feasible(self, procs: list[int], machines: list[int]) -> bool:
        """Constraints that moves of ``procs`` touching ``machines`` could have broken (rest assumed to hold)."""
        inst = self.inst
        if (self.free[machines] < 0).any() or (0 <= inst.max_moves < self.n_moved) or inst.sized_out(self.size_moved):
            return False
        if inst.frozen is not None and inst.frozen[procs].any():
            return False  # a frozen process swapped back to its original machine would pass the masks
        if not all(inst.placeable(p, int(self.assign[p])) for p in procs if self.assign[p] != self.orig[p]):
            return False
        nbs = {int(inst.neighborhood[m]) for m in machines}
        return all(self._service_ok(s, nbs) for s in {int(inst.service[p]) for p in procs})

    def _service_ok(self, s: int, nbs: set[int]) -> bool:
        machines = self.assign[self.svc_procs[s]]
        if self.inst.is_distinct(s) and np.unique(machines).shape[0] != machines.shape[0]:
            return False
        if self.n_locs[s] < self.inst.spread_min[s]:
            return False
        for n in nbs:
            here = self.nb_count[s, n] > 0
            if here and (self.nb_count[self.deps[s], n] == 0).any():
                return False
            if not here and (self.nb_count[self.rdeps[s], n] > 0).any():
                return False
        return True

    # ----- shift evaluation -----------------------------------------------------------------------------

    def shift_targets(self, p: int) -> IntArray:
        """Machines process p may move to (all hard constraints hold after the move)."""
        return np.flatnonzero(self.allowed(p) & self.fits(p))

    def fits(self, p: int) -> BoolArray:
        """Machines with room for p (capacity, and transient usage except on its original machine)."""
        inst = self.inst
        req = inst.requirement[p]
        ok: BoolArray = (self.free >= req).all(axis=1)
        o = int(self.orig[p])
        if o != int(self.assign[p]):
            ok[o] = bool((self.use[o] + req <= inst.capacity[o]).all())
        return ok

    def allowed(self, p: int) -> BoolArray:
        """Machines p may move to as far as conflict, spread and dependency go (capacity not checked)."""
        a = int(self.assign[p])
        s = int(self.inst.service[p])
        ok = self.inst.destinations(p)
        o = int(self.orig[p])
        if a == o and (0 <= self.inst.max_moves <= self.n_moved
                       or self.inst.sized_out(self.size_moved + self.inst.size_of(p))):
            ok[:] = False
        ok[self.assign[self.svc_procs[s]] if self.inst.is_distinct(s) else a] = False
        self._mask_spread(ok, s, a)
        self._mask_dependency(ok, s, a)
        return ok

    def _mask_spread(self, ok: BoolArray, s: int, a: int) -> None:
        la = int(self.inst.location[a])
        if self.loc_count[s, la] == 1 and self.n_locs[s] - 1 < self.inst.spread_min[s]:
            allowed = self.loc_count[s] == 0
            allowed[la] = True
            ok &= allowed[self.inst.location]

    def _mask_dependency(self, ok: BoolArray, s: int, a: int) -> None:
        na = int(self.inst.neighborhood[a])
        nb_of = self.inst.neighborhood
        if self.nb_count[s, na] == 1 and self.rdeps[s].shape[0] and (self.nb_count[self.rdeps[s], na] > 0).any():
            ok &= nb_of == na
            return
        if self.deps[s].shape[0]:
            allowed: BoolArray = np.asarray((self.nb_count[self.deps[s]] > 0).all(axis=0))
            allowed[na] = True
            ok &= allowed[nb_of]

    def shift_deltas(self, p: int, targets: IntArray) -> IntArray:
        """Exact change of the objective if p moved to each of ``targets`` (none equal to its machine)."""
        inst = self.inst
        a = int(self.assign[p])
        o = int(self.orig[p])
        s = int(inst.service[p])
        req = inst.requirement[p]
        gain_at = machine_costs(inst, self.use[targets] + req, targets) - self.mcost[targets]
        at_a = machine_costs(inst, (self.use[a] - req)[None, :], np.array([a]))[0] - self.mcost[a]
        moving = inst.move_costs(o, targets) - inst.move_costs(o, a)
        delta: IntArray = gain_at + at_a + moving * inst.weight_machine_move
        place = inst.place_cost.get(p)
        if place is not None:
            delta += place[targets] - place[a]
        if a == o:
            delta += int(self.pmc_w[p]) + self._moved_cost_if(s, 1)
        else:
            back = targets == o
            delta[back] -= int(self.pmc_w[p]) - self._moved_cost_if(s, -1)
        return delta

    def _moved_cost_if(self, s: int, step: int) -> int:
        k = int(self.moved[s]) + step
        if step > 0:
            return max(0, k - self.max_moved) * self.inst.weight_service_move
        if k + 1 == self.max_moved and self.hist[self.max_moved] == 1:
            return -self.inst.weight_service_move
        return 0


def _group(keys: IntArray, n: int) -> list[IntArray]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n)]


def _reverse(deps: tuple[tuple[int, ...], ...], n: int) -> list[IntArray]:
    rev: list[list[int]] = [[] for _ in range(n)]
    for s, ds in enumerate(deps):
        for d in ds:
            rev[d].append(s)
    return [np.array(r, dtype=np.int64) for r in rev]
