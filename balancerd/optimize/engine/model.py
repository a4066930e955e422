"""The engine's one model: processes (VMs) with resource vectors on machines (hosts), rules and costs.

Built by :mod:`balancerd.optimize.engine.fromstate` from the daemon's working state (after construction) and by
:mod:`balancerd.roadef.instance` from a ROADEF/EURO 2012 instance file; read by the engine's state, moves and
neighbourhoods. The ROADEF problem is the core of it (capacity and safety capacity per resource, transient
resources, services whose processes run on distinct machines, spread over locations, dependencies between
services within neighbourhoods, load / balance / move costs); the daemon adds what a cluster needs on top,
each of which ROADEF leaves at its neutral default:

- a second load tier: usage above ``level`` costs ``weight_level`` per unit (the daemon puts each host's share
  of the cluster's load there, so the tier measures imbalance between hosts), and weights per machine as well
  as per resource (a unit of load weighs by the host's own capacity, as the cluster score counts it);
- where a process may go: ``open_host`` (destinations for everyone: eligible hosts), ``only`` (per-process
  masks: must / must_not rules, pre-flight facts, failure memory) and ``frozen`` (processes that never move:
  pinned, cooled down, in flight, host overhead);
- ``place_cost``: a cost per (process, machine) (soft should / should_not rules);
- ``max_moves``: how many processes may end away from their original machine (the cycle's move budget), and
  ``max_move_size``: how much of ``move_size`` they may add up to (the daemon: migrated MiB, at most
  construction's);
- ``distinct``: which services keep their processes on distinct machines (ROADEF: all; the daemon: anti-affinity
  groups, while a spread group or either side of a dependency is a service only for spread and dependency).

All quantities are integers, so applying a move and its inverse restores every sum exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Model:
    """One placement problem (arrays are read-only by convention)."""

    transient: BoolArray  # [R] resource is transient
    weight_load: IntArray  # [R] cost per unit above safety, or [M, R] per machine
    neighborhood: IntArray  # [M]
    location: IntArray  # [M]
    capacity: IntArray  # [M, R]
    safety: IntArray  # [M, R]
    machine_move_cost: IntArray  # [M, M], or [A, A] over ``move_area``
    spread_min: IntArray  # [S]
    dependencies: tuple[tuple[int, ...], ...]  # [S] services each service depends on
    service: IntArray  # [P]
    requirement: IntArray  # [P, R]
    process_move_cost: IntArray  # [P]
    balance_r1: IntArray  # [B]
    balance_r2: IntArray  # [B]
    balance_target: IntArray  # [B]
    balance_weight: IntArray  # [B]
    weight_process_move: int
    weight_service_move: int
    weight_machine_move: int
    level: IntArray | None = None  # [M, R] second load tier (None: none)
    weight_level: IntArray | None = None  # [R] or [M, R] cost per unit above level
    open_host: BoolArray | None = None  # [M] machines any process may move to (None: all)
    only: Mapping[int, BoolArray] = field(default_factory=dict)  # process -> [M] machines it may run on
    frozen: BoolArray | None = None  # [P] processes that stay where they start
    place_cost: Mapping[int, IntArray] = field(default_factory=dict)  # process -> [M] cost of running there
    max_moves: int = -1  # processes that may end away from their original machine (-1: any number)
    move_size: IntArray | None = None  # [P] what a process away from its original machine adds up (None: 0)
    max_move_size: int = -1  # the most move_size processes away from their machine may add up to (-1: any)
    move_area: IntArray | None = None  # [M] row of machine_move_cost for each machine (None: the machine's own)
    distinct: BoolArray | None = None  # [S] service's processes run on distinct machines (None: every service's)

    @property
    def n_resources(self) -> int:
        return int(self.capacity.shape[1])

    @property
    def n_machines(self) -> int:
        return int(self.neighborhood.shape[0])

    @property
    def n_services(self) -> int:
        return int(self.spread_min.shape[0])

    @property
    def n_processes(self) -> int:
        return int(self.service.shape[0])

    def move_costs(self, origin: int | IntArray, dest: int | IntArray) -> IntArray:
        """Machine move cost from ``origin`` to ``dest`` (machines or arrays of them, broadcast; weight not
        applied): through each machine's ``move_area`` when the model has one."""
        if self.move_area is None:
            return np.asarray(self.machine_move_cost[origin, dest], dtype=np.int64)
        return np.asarray(self.machine_move_cost[self.move_area[origin], self.move_area[dest]], dtype=np.int64)

    def load_weight(self, m: int, r: int) -> int:
        return _weight_at(self.weight_load, m, r)

    def level_weight(self, m: int, r: int) -> int:
        return 0 if self.weight_level is None else _weight_at(self.weight_level, m, r)

    def size_of(self, p: int) -> int:
        return 0 if self.move_size is None else int(self.move_size[p])

    def sized_out(self, size: int) -> bool:
        """Whether processes away from their machine adding up to ``size`` pass ``max_move_size``."""
        return 0 <= self.max_move_size < size

    def is_distinct(self, s: int) -> bool:
        return self.distinct is None or bool(self.distinct[s])

    def is_frozen(self, p: int) -> bool:
        return self.frozen is not None and bool(self.frozen[p])

    def destinations(self, p: int) -> BoolArray:
        """Machines p may run on as far as masks go (a copy; conflict, spread, capacity not checked)."""
        ok = np.ones(self.n_machines, dtype=bool) if self.open_host is None else self.open_host.copy()
        mask = self.only.get(p)
        if mask is not None:
            ok &= mask
        if self.is_frozen(p):
            ok[:] = False
        return ok

    def placeable(self, p: int, m: int) -> bool:
        """Whether p may run on m as far as masks go."""
        if self.is_frozen(p) or (self.open_host is not None and not self.open_host[m]):
            return False
        mask = self.only.get(p)
        return mask is None or bool(mask[m])


def _weight_at(weight: IntArray, m: int, r: int) -> int:
    """A weight given per resource [R] or per machine and resource [M, R], for machine m and resource r."""
    return int(weight[r] if weight.ndim == 1 else weight[m, r])
