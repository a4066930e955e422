"""ROADEF 2012: the exact objective and the feasibility check of an assignment, computed from scratch.

Called by the solver (to verify what it writes), the bench command, the benchmarks and the tests. It is the
reference the incremental solver state is checked against, so it recomputes everything from the assignment,
following the problem statement: load cost, balance cost, process / service / machine move costs; capacity,
conflict, spread, dependency and transient-usage constraints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from balancerd.roadef.instance import Instance, IntArray


@dataclass(frozen=True)
class Cost:
    """The objective and its five terms (weights applied)."""

    load: int
    balance: int
    process_move: int
    service_move: int
    machine_move: int

    @property
    def total(self) -> int:
        return self.load + self.balance + self.process_move + self.service_move + self.machine_move


def usage(inst: Instance, assignment: IntArray) -> IntArray:
    """U(m, r): the requirement of the processes each machine runs."""
    out = np.zeros((inst.n_machines, inst.n_resources), dtype=np.int64)
    np.add.at(out, assignment, inst.requirement)
    return out


def transient_usage(inst: Instance, original: IntArray, assignment: IntArray) -> IntArray:
    """Usage counting a moved process on both its original and its new machine."""
    out = usage(inst, assignment)
    moved = assignment != original
    np.add.at(out, original[moved], inst.requirement[moved])
    return out


def machine_costs(inst: Instance, use: IntArray, machines: IntArray | None = None) -> IntArray:
    """Load plus balance cost of each machine (rows of ``use``; ``machines`` selects capacity rows)."""
    cap = inst.capacity if machines is None else inst.capacity[machines]
    safe = inst.safety if machines is None else inst.safety[machines]
    return load_costs(inst, use, safe) + balance_costs(inst, use, cap)


def load_costs(inst: Instance, use: IntArray, safe: IntArray) -> IntArray:
    over: IntArray = np.maximum(use - safe, 0)
    return over @ inst.weight_load


def balance_costs(inst: Instance, use: IntArray, cap: IntArray) -> IntArray:
    if inst.balance_r1.shape[0] == 0:
        return np.zeros(use.shape[0], dtype=np.int64)
    avail = cap - use
    gap: IntArray = np.maximum(inst.balance_target * avail[:, inst.balance_r1] - avail[:, inst.balance_r2], 0)
    return gap @ inst.balance_weight


def cost(inst: Instance, original: IntArray, assignment: IntArray) -> Cost:
    use = usage(inst, assignment)
    load = int(load_costs(inst, use, inst.safety).sum())
    balance = int(balance_costs(inst, use, inst.capacity).sum())
    moved = assignment != original
    process_move = int(inst.process_move_cost[moved].sum()) * inst.weight_process_move
    per_service = np.bincount(inst.service[moved], minlength=inst.n_services)
    service_move = int(per_service.max(initial=0)) * inst.weight_service_move
    machine_move = int(inst.machine_move_cost[original, assignment].sum()) * inst.weight_machine_move
    return Cost(load, balance, process_move, service_move, machine_move)


def objective(inst: Instance, original: IntArray, assignment: IntArray) -> int:
    return cost(inst, original, assignment).total


def violations(inst: Instance, original: IntArray, assignment: IntArray) -> list[str]:
    """Every violated hard constraint, described; empty when the assignment is feasible."""
    out = _capacity_violations(inst, original, assignment)
    out += _conflict_violations(inst, assignment)
    out += _spread_violations(inst, assignment)
    out += _dependency_violations(inst, assignment)
    return out


def is_feasible(inst: Instance, original: IntArray, assignment: IntArray) -> bool:
    return not violations(inst, original, assignment)


def _capacity_violations(inst: Instance, original: IntArray, assignment: IntArray) -> list[str]:
    use = usage(inst, assignment)
    trans = transient_usage(inst, original, assignment)
    checked = np.where(inst.transient[None, :], trans, use)
    bad = np.argwhere(checked > inst.capacity)
    return [f"capacity: machine {m} resource {r}" for m, r in bad[:20]]


def _conflict_violations(inst: Instance, assignment: IntArray) -> list[str]:
    pairs = inst.service * np.int64(inst.n_machines) + assignment
    uniq, counts = np.unique(pairs, return_counts=True)
    bad = uniq[counts > 1]
    return [f"conflict: service {p // inst.n_machines} twice on machine {p % inst.n_machines}" for p in bad[:20]]


def _spread_violations(inst: Instance, assignment: IntArray) -> list[str]:
    n_loc = int(inst.location.max(initial=0)) + 1
    pairs = np.unique(inst.service * np.int64(n_loc) + inst.location[assignment])
    spread = np.bincount(pairs // n_loc, minlength=inst.n_services)
    bad = np.flatnonzero(spread < inst.spread_min)
    return [f"spread: service {s} on {spread[s]} < {inst.spread_min[s]} locations" for s in bad[:20]]


def _dependency_violations(inst: Instance, assignment: IntArray) -> list[str]:
    present = service_neighborhoods(inst, assignment) > 0
    out: list[str] = []
    for s, deps in enumerate(inst.dependencies):
        for d in deps:
            missing = np.flatnonzero(present[s] & ~present[d])
            if missing.size:
                out.append(f"dependency: service {s} in neighbourhood {missing[0]} without service {d}")
    return out[:20]


def service_neighborhoods(inst: Instance, assignment: IntArray) -> IntArray:
    """Count of each service's processes in each neighbourhood, [S, N]."""
    n_nb = int(inst.neighborhood.max(initial=0)) + 1
    out = np.zeros((inst.n_services, n_nb), dtype=np.int64)
    np.add.at(out, (inst.service, inst.neighborhood[assignment]), 1)
    return out
