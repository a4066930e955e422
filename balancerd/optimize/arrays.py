"""The vectorised core of the balance strategy: hosts x resources matrices and bulk candidate scoring.

Called by :mod:`balancerd.optimize.balance` (the one balance strategy the daemon, the CLI, the tests and the
benchmarks all use). Built from a :class:`~balancerd.optimize.state.ClusterState` after the drains; it holds
numpy copies of every eligible host's balance load, capacity load, capacity and usable capacity, and of every
movable VM's demand and host. It only SCORES candidates; the caller checks the winners exactly on the
ClusterState (rules, exact score change, ``min_gain``), applies them there, and reports them back with
:meth:`Arrays.moved` so both views stay equal.

Scoring uses the fixed-mean form of the variance: for a move of VM v from s to d with the mean utilisation m
held fixed, ``dssd = (u_s' - m)^2 + (u_d' - m)^2 - (u_s - m)^2 - (u_d - m)^2``. The true variance changes by
``dssd / n - (shift of the mean)^2 <= dssd / n``, so a candidate with ``dssd < 0`` really lowers the
imbalance, and moves between disjoint host pairs add up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancerd.optimize import scoring as sc
from balancerd.optimize.state import ClusterState

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Candidates:
    """Scored candidate moves: VM index, source and destination host index, dssd, penalty relief, fit."""

    vm: Ints
    src: Ints
    dst: Ints
    dssd: Floats
    relief: Floats
    fit: Bools


def _inverse(values: Floats) -> Floats:
    out = np.zeros_like(values)
    np.divide(1.0, values, out=out, where=values > 0)
    return out


class Arrays:
    """numpy mirror of the balance-relevant part of a ClusterState."""

    def __init__(self, state: ClusterState, movable: list[str]) -> None:
        loads = list(state.hosts.values())
        self.host_names = [h.name for h in loads]
        index = {name: i for i, name in enumerate(self.host_names)}
        self.cap = np.array([[h.capacity.cpu_m, h.capacity.mem_mib] for h in loads], dtype=np.float64).reshape(-1, 2)
        self.inv = _inverse(self.cap)
        self.usable = np.array([[h.usable_cpu, h.usable_mem] for h in loads], dtype=np.float64).reshape(-1, 2)
        self.bal = np.array([[h.bal_cpu, h.bal_mem] for h in loads], dtype=np.float64).reshape(-1, 2)
        self.load = np.array([[h.cap_cpu, h.cap_mem] for h in loads], dtype=np.float64).reshape(-1, 2)
        self.eligible = np.array([h.eligible for h in loads], dtype=np.bool_)
        self.vm_names = movable
        demand = [state.demand[n] for n in movable]
        count = len(movable)
        location = state.location
        self.vhost = np.fromiter((index[location[n]] for n in movable), dtype=np.int64, count=count)
        self.vbal = np.fromiter((x for d in demand for x in (d.bal.cpu_m, d.bal.mem_mib)), dtype=np.float64,
                                count=2 * count).reshape(-1, 2)
        self.vcap = np.fromiter((x for d in demand for x in (d.cap.cpu_m, d.cap.mem_mib)), dtype=np.float64,
                                count=2 * count).reshape(-1, 2)
        self.active = np.ones(len(movable), dtype=np.bool_)
        self.index = index

    # ------------------------------------------------------------------------------------ host figures

    def util(self) -> Floats:
        """Utilisation per host: the larger of CPU and memory balance load over capacity."""
        return np.asarray((self.bal * self.inv).max(axis=1), dtype=np.float64)

    def penalty(self, load: Floats, hosts: Ints) -> Floats:
        """Overload penalty of ``hosts`` if they carried capacity load ``load``."""
        over = np.maximum(0.0, load - self.usable[hosts]) * self.inv[hosts]
        return np.asarray(sc.OVERLOAD_WEIGHT * over.sum(axis=1), dtype=np.float64)

    def stats(self) -> tuple[Floats, float, float, int]:
        """(utilisation, mean, standard deviation, count) over eligible hosts."""
        util = self.util()
        values = util[self.eligible]
        if values.size == 0:
            return util, 0.0, 0.0, 0
        return util, float(values.mean()), float(values.std()), int(values.size)

    # ------------------------------------------------------------------------------------- candidates

    def on_hosts(self, hosts: Ints) -> tuple[Ints, Ints]:
        """Active movable VMs on each of ``hosts``: (VM indices, position in ``hosts`` of each)."""
        live = np.flatnonzero(self.active)
        order = live[np.argsort(self.vhost[live], kind="stable")]
        sorted_hosts = self.vhost[order]
        starts = np.searchsorted(sorted_hosts, hosts, side="left")
        ends = np.searchsorted(sorted_hosts, hosts, side="right")
        counts = ends - starts
        owner = np.repeat(np.arange(len(hosts), dtype=np.int64), counts)
        offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        return order[np.repeat(starts, counts) + offsets], owner

    def score(self, vm: Ints, src: Ints, dst: Ints, util: Floats, mean: float) -> Candidates:
        """Score moving each ``vm[i]`` from ``src[i]`` to ``dst[i]`` (see the module docstring)."""
        us = ((self.bal[src] - self.vbal[vm]) * self.inv[src]).max(axis=1)
        ud = ((self.bal[dst] + self.vbal[vm]) * self.inv[dst]).max(axis=1)
        dssd = (us - mean) ** 2 + (ud - mean) ** 2 - (util[src] - mean) ** 2 - (util[dst] - mean) ** 2
        src_load = self.load[src]
        relief = self.penalty(src_load, src) - self.penalty(src_load - self.vcap[vm], src)
        fit = ((self.load[dst] + self.vcap[vm]) <= self.usable[dst]).all(axis=1) & (src != dst)
        return Candidates(vm, src, dst, np.asarray(dssd, dtype=np.float64), relief, fit & self.eligible[dst])

    def pairs(self, util: Floats, mean: float) -> Candidates:
        """Candidates of one round: the k-th hottest host above the mean paired with the k-th coolest below it."""
        hot = np.flatnonzero(self.eligible & (util > mean + _EPS))
        cold = np.flatnonzero(self.eligible & (util < mean - _EPS))
        hot = hot[np.argsort(-util[hot], kind="stable")]
        cold = cold[np.argsort(util[cold], kind="stable")]
        k = min(hot.size, cold.size)
        vm, owner = self.on_hosts(hot[:k])
        return self.score(vm, hot[:k][owner], cold[:k][owner], util, mean)

    def from_sources(self, sources: Ints, util: Floats, mean: float) -> Candidates:
        """Candidates moving any movable VM on ``sources`` to any eligible host."""
        vm, owner = self.on_hosts(sources)
        dests = np.flatnonzero(self.eligible)
        vm_all = np.repeat(vm, dests.size)
        src_all = np.repeat(sources[owner], dests.size)
        dst_all = np.tile(dests, vm.size)
        return self.score(vm_all, src_all, dst_all, util, mean)

    # ---------------------------------------------------------------------------------------- updates

    def moved(self, vm: int, dst: int) -> None:
        """Record that movable VM ``vm`` now runs on host ``dst``."""
        src = self.vhost[vm]
        self.bal[src] -= self.vbal[vm]
        self.load[src] -= self.vcap[vm]
        self.bal[dst] += self.vbal[vm]
        self.load[dst] += self.vcap[vm]
        self.vhost[vm] = dst


def best_per_group(values: Floats, groups: Ints, ties: Floats | None = None) -> Ints:
    """Index of the smallest of ``values`` within each run of equal ``groups``; equal values are ordered by
    ``ties`` (smallest first) when given, else by position."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    keys = (values, groups) if ties is None else (ties, values, groups)
    order = np.lexsort(keys)
    first = np.ones(order.size, dtype=np.bool_)
    first[1:] = groups[order][1:] != groups[order][:-1]
    return np.asarray(order[first], dtype=np.int64)
