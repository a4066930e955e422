"""ROADEF 2012: random instances in the challenge format, up to the B/X sizes, with a feasible original assignment.

Called by the tests (tiny instances) and by ``benchmarks/roadef_generate.py`` (50,000 processes, 5,000 machines,
12 resources; the repository ships only the A set's sizes as reference, so large instances are made here).
The original assignment is built first and the model around it, so it is feasible by construction:
services sit on distinct machines, capacities cover usage, spread minimums and dependencies are taken
from what the original assignment already satisfies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from balancerd.roadef.instance import Instance, IntArray, format_solution


@dataclass(frozen=True)
class GenSpec:
    """Shape of a generated instance."""

    machines: int = 50
    processes: int = 500
    resources: int = 4
    services: int = 100
    neighborhoods: int = 5
    locations: int = 10
    transient: int = 1
    balances: int = 1
    seed: int = 0


def generate(spec: GenSpec) -> tuple[Instance, IntArray]:
    """A random instance and its (feasible) original assignment."""
    rng = np.random.default_rng(spec.seed)
    service = _services(spec, rng)
    assignment = _place(spec, service, rng)
    neighborhood = rng.integers(0, spec.neighborhoods, size=spec.machines)
    neighborhood[: spec.neighborhoods] = np.arange(min(spec.neighborhoods, spec.machines))
    location = rng.integers(0, spec.locations, size=spec.machines)
    requirement = rng.lognormal(8.0, 1.0, size=(spec.processes, spec.resources)).astype(np.int64) + 1
    capacity, safety = _capacities(spec, requirement, assignment, rng)
    inst = Instance(
        transient=np.arange(spec.resources) < spec.transient,
        weight_load=rng.integers(1, 20, size=spec.resources),
        neighborhood=neighborhood, location=location, capacity=capacity, safety=safety,
        machine_move_cost=_move_costs(location, rng),
        spread_min=_spread(spec, service, location[assignment], rng),
        dependencies=_dependencies(spec, service, neighborhood[assignment], rng),
        service=service, requirement=requirement,
        process_move_cost=rng.integers(0, 10, size=spec.processes),
        balance_r1=np.arange(spec.balances) % max(spec.resources, 1),
        balance_r2=(np.arange(spec.balances) + 1) % max(spec.resources, 1),
        balance_target=rng.integers(1, 4, size=spec.balances),
        balance_weight=rng.integers(1, 10, size=spec.balances),
        weight_process_move=1, weight_service_move=10, weight_machine_move=100,
    )
    return inst, assignment


def _services(spec: GenSpec, rng: np.random.Generator) -> IntArray:
    """Service of each process: every service has at least one process and at most one per machine."""
    base = np.arange(spec.processes) % spec.services
    service = np.sort(rng.permutation(base))
    sizes = np.bincount(service, minlength=spec.services)
    if sizes.max() > spec.machines:
        raise ValueError("a service has more processes than there are machines")
    return service


def _place(spec: GenSpec, service: IntArray, rng: np.random.Generator) -> IntArray:
    """Original machine of each process, the processes of a service on distinct machines."""
    assignment = np.empty(spec.processes, dtype=np.int64)
    starts = np.searchsorted(service, np.arange(spec.services))
    ends = np.searchsorted(service, np.arange(spec.services), side="right")
    for s in range(spec.services):
        size = int(ends[s] - starts[s])
        assignment[starts[s] : ends[s]] = rng.choice(spec.machines, size=size, replace=False)
    return assignment


def _capacities(
    spec: GenSpec, requirement: IntArray, assignment: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    use = np.zeros((spec.machines, spec.resources), dtype=np.int64)
    np.add.at(use, assignment, requirement)
    mean = requirement.sum(axis=0) / spec.machines
    capacity = np.maximum(use, (mean * rng.uniform(1.0, 1.4, size=use.shape)).astype(np.int64)) + 1
    safety = (capacity * rng.uniform(0.6, 0.95, size=use.shape)).astype(np.int64)
    return capacity, safety


def _move_costs(location: IntArray, rng: np.random.Generator) -> IntArray:
    """Machine move cost from location distance (0 on the diagonal)."""
    del rng
    dist = np.abs(location[:, None] - location[None, :])
    out: IntArray = np.minimum(dist, 9).astype(np.int64)
    return out


def _spread(spec: GenSpec, service: IntArray, proc_location: IntArray, rng: np.random.Generator) -> IntArray:
    n_loc = spec.locations
    pairs = np.unique(service * n_loc + proc_location)
    spread = np.bincount(pairs // n_loc, minlength=spec.services)
    out: IntArray = rng.integers(0, spread + 1)
    return out


def _dependencies(
    spec: GenSpec, service: IntArray, proc_nb: IntArray, rng: np.random.Generator
) -> tuple[tuple[int, ...], ...]:
    """Each service depends on up to 3 services present in every neighbourhood it uses."""
    present = np.zeros((spec.services, spec.neighborhoods), dtype=bool)
    present[service, proc_nb] = True
    deps: list[tuple[int, ...]] = []
    for s in range(spec.services):
        covers = np.flatnonzero((present[s][None, :] <= present).all(axis=1))
        covers = covers[covers != s]
        count = min(covers.shape[0], int(rng.integers(0, 4)))
        deps.append(tuple(sorted(int(d) for d in rng.choice(covers, size=count, replace=False))))
    return tuple(deps)


def format_model(inst: Instance) -> str:
    """The model in the challenge's text format."""
    lines = [str(inst.n_resources)]
    lines += [f"{int(t)} {w}" for t, w in zip(inst.transient, inst.weight_load, strict=True)]
    lines.append(str(inst.n_machines))
    rows = np.hstack([inst.neighborhood[:, None], inst.location[:, None], inst.capacity, inst.safety,
                      inst.machine_move_cost])
    lines += [" ".join(map(str, row)) for row in rows.tolist()]
    lines.append(str(inst.n_services))
    services = zip(inst.spread_min.tolist(), inst.dependencies, strict=True)
    lines += [" ".join(map(str, [sm, len(d), *d])) for sm, d in services]
    lines.append(str(inst.n_processes))
    procs = np.hstack([inst.service[:, None], inst.requirement, inst.process_move_cost[:, None]])
    lines += [" ".join(map(str, row)) for row in procs.tolist()]
    lines.append(str(inst.balance_r1.shape[0]))
    for b in range(inst.balance_r1.shape[0]):
        lines.append(f"{inst.balance_r1[b]} {inst.balance_r2[b]} {inst.balance_target[b]}")
        lines.append(str(inst.balance_weight[b]))
    lines.append(f"{inst.weight_process_move} {inst.weight_service_move} {inst.weight_machine_move}")
    return "\n".join(lines) + "\n"


def write_instance(inst: Instance, assignment: IntArray, model: Path, original: Path) -> None:
    Path(model).write_text(format_model(inst))
    Path(original).write_text(format_solution(assignment))
