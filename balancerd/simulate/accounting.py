"""What a replay cost and how well it served: energy, SLA violations, migrations, as CloudSim measures them.

:class:`Accountant` is fed by :mod:`balancerd.simulate.runner`: ``advance_to`` integrates the cluster's state
up to a clock time, and the executor's move events (``on_event``, the ``CycleRunner`` hook) change it. Between
two events every host's requested CPU is the sum of the trace demand of the VMs on it, plus 10 % of each VM
migrating in; a migrating VM loses 10 % of its demand while it moves (Beloglazov & Buyya 2012, CloudSim 3).

Definitions (see the data README): a host is active while it holds a VM (an empty host is off, 0 W, when
``idle_off``; otherwise it idles at its 0 % power); energy integrates the SPECpower curve at utilisation
min(1, requested / capacity); SLATAH = active host-time at 100 % CPU (requested above capacity) / active
host-time; PDM = CPU lost to migrations / CPU requested; SLAV = SLATAH x PDM; ESV = energy (kWh) x SLAV.
Ours: a ping-pong move returns a VM to a host it left less than an hour before; GiB moved counts the data
each migration transferred.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancerd.clock import Clock
from balancerd.model import Move, MoveResult, Outcome
from balancerd.simulate.cluster import Cluster
from balancerd.simulate.power import watts_many

PING_PONG_S = 3600.0
MIGRATION_LOSS = 0.1
"""Share of its CPU a VM loses while it migrates, and share the destination reserves for it."""
GIB = float(1 << 30)
_PERCENTILES = (5, 25, 50, 75, 95, 100)

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Migration:
    """One completed migration, as the accounting saw it."""

    vm: str
    source: str
    dest: str
    started_at: float
    finished_at: float
    gib: float


@dataclass(frozen=True, slots=True)
class Totals:
    """The figures of a whole replay (see the module docstring for definitions)."""

    energy_kwh: float
    slatah: float
    pdm: float
    slav: float
    esv: float
    migrations: int
    failed_migrations: int
    ping_pong_moves: int
    moves_per_vm_per_day: float
    max_moves_per_vm_day: int
    """The most moves any one VM made on one day of the replay (days counted from the trace's start)."""
    gib_moved: float
    vms: int
    hosts: int
    simulated_seconds: float
    mean_active_hosts: float


class Accountant:
    """Integrates energy and SLA figures over clock time while the executor moves VMs."""

    def __init__(self, cluster: Cluster, clock: Clock, idle_off: bool = True) -> None:
        self._c = cluster
        self._clock = clock
        self._idle_off = idle_off
        self._vm = {vm.name: i for i, vm in enumerate(cluster.vms)}
        self._host = {host.name: i for i, host in enumerate(cluster.hosts)}
        self.where = cluster.placement.copy()
        self._migrating: dict[int, tuple[int, float]] = {}
        self._left: dict[tuple[int, int], float] = {}
        self._t = cluster.origin
        steps = cluster.demand.shape[1]
        self.energy_j = np.zeros(steps)
        self.active_s = np.zeros(steps)
        self.overload_s = np.zeros(steps)
        self.util_percentiles = np.full((steps, len(_PERCENTILES)), np.nan)
        self.requested = 0.0
        self.lost = 0.0
        self.migrations: list[Migration] = []
        self.failed = 0
        self.ping_pong = 0

    @property
    def now(self) -> float:
        return self._t

    @property
    def step_s(self) -> int:
        return self._c.step_s

    @property
    def end(self) -> float:
        return self._c.origin + int(self._c.demand.shape[1]) * self._c.step_s

    # -- time -----------------------------------------------------------------------------------------

    def advance_to(self, t: float) -> None:
        """Integrate the current state from the last time seen up to ``t`` (capped at the trace's end)."""
        t = min(t, self.end)
        while self._t < t:
            step = int((self._t - self._c.origin) // self._c.step_s)
            boundary = self._c.origin + (step + 1) * self._c.step_s
            until = min(t, boundary)
            self._segment(step, until - self._t, first=self._t == self._c.origin + step * self._c.step_s)
            self._t = until

    def _segment(self, step: int, dt: float, first: bool) -> None:
        demand = self._c.demand[:, step]
        hosts = len(self._c.hosts)
        requested = np.bincount(self.where, weights=demand, minlength=hosts)
        active = np.bincount(self.where, minlength=hosts) > 0
        for vm, (dest, _) in self._migrating.items():
            requested[dest] += MIGRATION_LOSS * demand[vm]
            active[dest] = True
            self.lost += MIGRATION_LOSS * demand[vm] * dt
        util = requested / self._c.host_mips
        power = watts_many(self._c.host_power, util)
        on = active if self._idle_off else np.ones(hosts, dtype=bool)
        self.energy_j[step] += float(power[on].sum()) * dt
        self.active_s[step] += float(active.sum()) * dt
        self.overload_s[step] += float((active & (requested > self._c.host_mips * (1 + 1e-9))).sum()) * dt
        self.requested += float(demand.sum()) * dt
        if first and active.any():
            self.util_percentiles[step] = np.percentile(np.minimum(util[active], 1.0), _PERCENTILES)

    # -- moves ----------------------------------------------------------------------------------------

    def on_event(self, kind: str, move: Move, result: MoveResult | None) -> None:
        """The ``CycleRunner`` event hook: starts and ends of moves."""
        vm = self._vm.get(move.vm)
        if vm is None:
            return
        if kind == "started":
            self.advance_to(self._clock.now())
            self._migrating[vm] = (self._host[move.dest], self._clock.now())
        elif result is not None and kind in (Outcome.SUCCEEDED.value, Outcome.FAILED.value, Outcome.ABORTED.value):
            self._ended(vm, move, result)

    def _ended(self, vm: int, move: Move, result: MoveResult) -> None:
        self.advance_to(result.finished_at)
        started = self._migrating.pop(vm, None)
        if result.outcome is not Outcome.SUCCEEDED:
            self.failed += 1
            return
        source, dest = int(self.where[vm]), self._host[move.dest]
        if result.finished_at - self._left.get((vm, dest), -np.inf) < PING_PONG_S:
            self.ping_pong += 1
        self._left[(vm, source)] = result.finished_at
        self.where[vm] = dest
        data = result.bytes_transferred or move.memory_mib * (1 << 20)
        start = started[1] if started is not None else result.started_at
        self.migrations.append(Migration(move.vm, move.source, move.dest, start, result.finished_at, data / GIB))

    # -- results --------------------------------------------------------------------------------------

    def totals(self) -> Totals:
        """The figures so far."""
        seconds = max(0.0, self._t - self._c.origin)
        active = float(self.active_s.sum())
        slatah = float(self.overload_s.sum()) / active if active else 0.0
        pdm = self.lost / self.requested if self.requested else 0.0
        energy = float(self.energy_j.sum()) / 3.6e6
        vms = len(self._c.vms)
        days = seconds / 86_400 if seconds else 1.0
        return Totals(energy_kwh=energy, slatah=slatah, pdm=pdm, slav=slatah * pdm, esv=energy * slatah * pdm,
                      migrations=len(self.migrations), failed_migrations=self.failed, ping_pong_moves=self.ping_pong,
                      moves_per_vm_per_day=len(self.migrations) / vms / days if vms else 0.0,
                      max_moves_per_vm_day=self._max_per_vm_day(),
                      gib_moved=sum(m.gib for m in self.migrations), vms=vms, hosts=len(self._c.hosts),
                      simulated_seconds=seconds, mean_active_hosts=active / seconds if seconds else 0.0)

    def _max_per_vm_day(self) -> int:
        days = Counter((m.vm, int((m.finished_at - self._c.origin) // 86_400)) for m in self.migrations)
        return max(days.values(), default=0)

    def series(self) -> Mapping[str, list[float]]:
        """Per-step figures for the report's plots."""
        step = float(self._c.step_s)
        return {
            "energy_kwh": (self.energy_j / 3.6e6).tolist(),
            "active_hosts": (self.active_s / step).tolist(),
            "sla_violation_pct": np.divide(100 * self.overload_s, self.active_s, out=np.zeros_like(self.active_s),
                                           where=self.active_s > 0).tolist(),
            **{f"util_p{p}": self.util_percentiles[:, i].tolist() for i, p in enumerate(_PERCENTILES)},
        }
