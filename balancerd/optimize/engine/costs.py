"""The engine's objective, computed from scratch: load (two tiers), balance, placement and move costs.

Called by :mod:`balancerd.optimize.engine.state` (to build its sums and to price one machine after a move) and
by the tests, which check the incremental state against it. The ROADEF configuration of the model (no second
tier, no placement costs) gives the challenge's objective; :mod:`balancerd.roadef.objective` is the
independent checker of that.
"""

from __future__ import annotations

import numpy as np

from balancerd.optimize.engine.model import IntArray, Model


def usage(model: Model, assignment: IntArray) -> IntArray:
    """U(m, r): the requirement of the processes each machine runs."""
    out = np.zeros((model.n_machines, model.n_resources), dtype=np.int64)
    np.add.at(out, assignment, model.requirement)
    return out


def machine_costs(model: Model, use: IntArray, machines: IntArray | None = None) -> IntArray:
    """Load, second-tier and balance cost of each machine (rows of ``use``; ``machines`` selects their rows)."""
    rows = slice(None) if machines is None else machines
    cost = _tier(np.maximum(use - model.safety[rows], 0), model.weight_load, rows)
    if model.level is not None and model.weight_level is not None:
        cost += _tier(np.maximum(use - model.level[rows], 0), model.weight_level, rows)
    if model.balance_r1.shape[0]:
        avail = model.capacity[rows] - use
        gap = np.maximum(model.balance_target * avail[:, model.balance_r1] - avail[:, model.balance_r2], 0)
        cost += gap @ model.balance_weight
    return cost


def _tier(excess: IntArray, weight: IntArray, rows: slice | IntArray) -> IntArray:
    """Weighted excess per row: ``weight`` per resource [R], or per machine and resource [M, R]."""
    if weight.ndim == 1:
        out: IntArray = excess @ weight
        return out
    total: IntArray = (excess * weight[rows]).sum(axis=1)
    return total


def place_total(model: Model, assignment: IntArray) -> int:
    return sum(int(costs[assignment[p]]) for p, costs in model.place_cost.items())


def objective(model: Model, original: IntArray, assignment: IntArray) -> int:
    """The whole objective of ``assignment`` against ``original``."""
    total = int(machine_costs(model, usage(model, assignment)).sum()) + place_total(model, assignment)
    moved = assignment != original
    total += int(model.process_move_cost[moved].sum()) * model.weight_process_move
    per_service = np.bincount(model.service[moved], minlength=model.n_services)
    total += int(per_service.max(initial=0)) * model.weight_service_move
    total += int(model.move_costs(original, assignment).sum()) * model.weight_machine_move
    return total


def service_neighborhoods(model: Model, assignment: IntArray) -> IntArray:
    """Count of each service's processes in each neighbourhood, [S, N]."""
    n_nb = int(model.neighborhood.max(initial=0)) + 1
    out = np.zeros((model.n_services, n_nb), dtype=np.int64)
    np.add.at(out, (model.service, model.neighborhood[assignment]), 1)
    return out
