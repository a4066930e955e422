"""The optimizer's working state: per-host loads kept up to date while moves are tried and applied.

Built once per ``plan()`` / ``explain()`` / ``score()`` call from the frozen snapshot, forecast, policy and
migration speed,
then mutated only inside the optimizer (strategies apply moves to it; the planner replays moves on a fresh
copy). It keeps the sums of the score (count, sum and sum of squares of utilisation, total penalty) so that
the score change of a candidate move costs O(1), not a pass over the cluster.

Demand of a VM: for capacity checks CPU is the forecast's upper quantile and memory is
max(size, predicted usage) (memory is allocated, never overcommitted); for balance CPU is the forecast's
point value and memory the predicted usage. A VM missing from the forecast uses its snapshot usage. A VM in
flight counts on its source and its destination. A host's non-VM overhead is its usage minus the usage of
the VMs counted on it, floored at 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from balancerd.config import DEFAULT_LINK_MIB_S, PolicyConfig
from balancerd.model import (
    ClusterSnapshot,
    FailureRecord,
    Forecast,
    Host,
    InFlight,
    MoveKind,
    Resources,
    Vm,
    VmForecast,
)
from balancerd.optimize import facts
from balancerd.optimize import scoring as sc
from balancerd.optimize.rules import Rules


@dataclass(frozen=True, slots=True)
class Demand:
    """What one VM needs: ``cap`` for capacity checks, ``bal`` for balancing."""

    cap: Resources
    bal: Resources


def demand_of(vm: Vm, forecast: VmForecast | None) -> Demand:
    """Demand of ``vm`` from its forecast, or from its snapshot usage when it has none."""
    point = forecast.point if forecast is not None else vm.usage
    upper = forecast.upper if forecast is not None else vm.usage
    extra = upper.extra or vm.size.extra
    if extra:
        extra = upper.max_with(vm.size).extra
    cap = Resources(upper.cpu_m, max(vm.size.mem_mib, upper.mem_mib), extra)
    return Demand(cap=cap, bal=point)


def kind_of(vm: Vm) -> MoveKind:
    """LIVE for running, live-migratable VMs; COLD for everything else."""
    return MoveKind.LIVE if vm.running and vm.live_migratable else MoveKind.COLD


class HostLoad:
    """Mutable load of one host, with its utilisation and penalty cached."""

    __slots__ = ("bal_cpu", "bal_mem", "cap_cpu", "cap_mem", "capacity", "eligible", "host", "inv_cpu",
                 "inv_mem", "name", "named", "pen", "usable", "usable_cpu", "usable_mem", "util")

    def __init__(self, host: Host, usable: Resources) -> None:
        self.host = host
        self.name = host.name
        self.capacity = host.capacity
        self.usable = usable
        self.usable_cpu, self.usable_mem = usable.cpu_m, usable.mem_mib
        self.inv_cpu = 1.0 / host.capacity.cpu_m if host.capacity.cpu_m > 0 else 0.0
        self.inv_mem = 1.0 / host.capacity.mem_mib if host.capacity.mem_mib > 0 else 0.0
        self.eligible = host.reachable and not host.maintenance
        self.cap_cpu = self.cap_mem = self.bal_cpu = self.bal_mem = 0
        self.util = self.pen = self.named = 0.0
        """``named``: the overload penalty of its named resources (kept by ClusterState, part of ``pen``)."""

    def copy(self) -> HostLoad:
        """An independent copy (same host, same loads)."""
        twin = HostLoad.__new__(HostLoad)
        for slot in HostLoad.__slots__:
            setattr(twin, slot, getattr(self, slot))
        return twin

    def add(self, demand: Demand, sign: int) -> None:
        """Add (sign 1) or remove (sign -1) a VM's demand and refresh the caches."""
        self.cap_cpu += sign * demand.cap.cpu_m
        self.cap_mem += sign * demand.cap.mem_mib
        self.bal_cpu += sign * demand.bal.cpu_m
        self.bal_mem += sign * demand.bal.mem_mib
        self.refresh()

    def refresh(self) -> None:
        self.util = self.util_after(0, 0)
        self.pen = self.pen_after(0, 0)

    def util_after(self, d_cpu: int, d_mem: int) -> float:
        """Utilisation if the balance load changed by (d_cpu, d_mem)."""
        return sc.utilisation(self.bal_cpu + d_cpu, self.bal_mem + d_mem, self.capacity)

    def pen_after(self, d_cpu: int, d_mem: int) -> float:
        """Overload penalty if the capacity load changed by (d_cpu, d_mem), named resources unchanged."""
        return sc.overload(self.cap_cpu + d_cpu, self.cap_mem + d_mem, self.usable, self.capacity) + self.named

    def fits(self, demand: Resources) -> bool:
        """True when ``demand`` fits on top of the current load within usable capacity."""
        return (self.cap_cpu + demand.cpu_m <= self.usable.cpu_m
                and self.cap_mem + demand.mem_mib <= self.usable.mem_mib)

    def fits_full(self, demand: Resources) -> bool:
        """True when ``demand`` fits on top of the current load within the full capacity."""
        return (self.cap_cpu + demand.cpu_m <= self.capacity.cpu_m
                and self.cap_mem + demand.mem_mib <= self.capacity.mem_mib)

    def percent(self) -> str:
        """E.g. "92% cpu": utilisation and its dominant resource, for reasons."""
        resource = sc.dominant(self.bal_cpu, self.bal_mem, self.capacity)
        return f"{self.util * 100:.0f}% {resource}"


_RESUM_EVERY = 64
"""Applied moves between exact recomputations of the score sums (bounds floating-point drift); at least
one per eligible host, so the recomputation costs O(1) per move amortised."""

Change = tuple[HostLoad, int, int, int, int]
"""(host, d_bal_cpu, d_bal_mem, d_cap_cpu, d_cap_mem): one host's part of a candidate change."""


class ClusterState:
    """Loads of every host, where every VM is, and the score sums over eligible hosts."""

    def __init__(self, snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig,
                 cooldown: frozenset[str], *, migration_mib_s: int = DEFAULT_LINK_MIB_S,
                 failures: tuple[FailureRecord, ...] = (), capped: tuple[tuple[str, int], ...] = (),
                 recent: tuple[tuple[str, int], ...] = ()) -> None:
        self.policy = policy
        self.now = snapshot.taken_at
        self.failures = {(f.vm, f.dest): f for f in failures}
        """The failure memory by (VM, destination)."""
        self.migration_mib_s = migration_mib_s
        """The speed a migration gets (``MigrationConfig.speed_mib_s``): what a move's cost is figured at."""
        self.cooldown = cooldown
        self.capped = dict(capped)
        """VMs at ``policy.max_moves_per_vm_per_day``, with their moves in the last 24 hours (balancing skips them)."""
        self.recent = dict(recent)
        """Every VM's moves in the last 24 hours when a cap is set (:meth:`moves_left`)."""
        self.hosts = {h.name: HostLoad(h, sc.usable_capacity(h.capacity, policy.headroom_pct))
                      for h in snapshot.hosts}
        self.vms = {vm.name: vm for vm in snapshot.vms}
        fmap = forecast.as_mapping()
        self.demand = {vm.name: demand_of(vm, fmap.get(vm.name)) for vm in snapshot.vms}
        self.in_flight: dict[str, InFlight] = {f.vm: f for f in snapshot.in_flight}
        self.location = {vm.name: vm.host for vm in snapshot.vms}
        self.on_host: dict[str, list[str]] = {name: [] for name in self.hosts}
        self.moved: set[str] = set()
        self._applied = 0
        self.rules = Rules(snapshot, policy)
        self.blocked = facts.blocked_hosts(snapshot)
        """Hosts each VM's pre-flight facts rule out, with the reasons."""
        self.constrained = self.rules.constrained | self.blocked.keys() | {vm for vm, _ in self.failures}
        """VMs whose destinations need per-pair checks: placement rules, facts or failure memory."""
        self.extra_load: dict[str, dict[str, int]] = {}
        self._load(snapshot)
        self.soft = self.rules.soft_total(self.location)
        self._resum()

    def copy(self) -> ClusterState:
        """An independent working copy (the planner replays moves on a copy of the starting state)."""
        twin = ClusterState.__new__(ClusterState)
        twin.__dict__.update(self.__dict__)
        twin.hosts = {name: load.copy() for name, load in self.hosts.items()}
        twin.location = dict(self.location)
        twin.on_host = {name: list(vms) for name, vms in self.on_host.items()}
        twin.moved = set(self.moved)
        twin.extra_load = {name: dict(load) for name, load in self.extra_load.items()}
        return twin

    def _counted_on(self, vm: Vm) -> set[str]:
        names = {vm.host}
        flight = self.in_flight.get(vm.name)
        if flight is not None:
            names |= {flight.source, flight.dest}
        return {n for n in names if n in self.hosts}

    def _load(self, snapshot: ClusterSnapshot) -> None:
        """Add every VM to the hosts it counts on, then each host's overhead; caches refreshed once per host."""
        used = {name: [0, 0] for name in self.hosts}
        for vm in snapshot.vms:
            if vm.host in self.on_host:
                self.on_host[vm.host].append(vm.name)
            names = (vm.host,) if vm.name not in self.in_flight else tuple(self._counted_on(vm))
            d = self.demand[vm.name]
            for name in names:
                load = self.hosts.get(name)
                if load is None:
                    continue
                used[name][0] += vm.usage.cpu_m
                used[name][1] += vm.usage.mem_mib
                load.cap_cpu += d.cap.cpu_m
                load.cap_mem += d.cap.mem_mib
                load.bal_cpu += d.bal.cpu_m
                load.bal_mem += d.bal.mem_mib
                self._add_extra(name, vm.name, 1)
        for host in snapshot.hosts:
            load = self.hosts[host.name]
            cpu = max(0, host.usage.cpu_m - used[host.name][0])
            mem = max(0, host.usage.mem_mib - used[host.name][1])
            load.cap_cpu += cpu
            load.bal_cpu += cpu
            load.cap_mem += mem
            load.bal_mem += mem
            load.refresh()

    def _add_extra(self, host: str, vm: str, sign: int) -> None:
        """Account ``vm``'s named resources (``Resources.extra``) on ``host``; its ``pen`` is refreshed by the
        caller."""
        extra = self.demand[vm].cap.extra
        if extra:
            load = self.extra_load.setdefault(host, {})
            _add_named(load, extra, sign)
            target = self.hosts[host]
            target.named = sc.named_overload(load, target.usable, target.capacity)

    def named_delta(self, moves: Iterable[tuple[str, str]]) -> float:
        """Score change from named-resource overload if each (VM, destination) of ``moves`` happened."""
        changed: dict[str, dict[str, int]] = {}
        for vm, dest in moves:
            extra = self.demand[vm].cap.extra
            for name, sign in ((self.location[vm], -1), (dest, 1)):
                if extra and self.hosts[name].eligible:
                    _add_named(changed.setdefault(name, dict(self.extra_load.get(name, {}))), extra, sign)
        after = (sc.named_overload(load, self.hosts[h].usable, self.hosts[h].capacity) for h, load in changed.items())
        return -(math.fsum(after) - math.fsum(self.hosts[h].named for h in changed))

    def _resum(self) -> None:
        """Recompute the score sums from scratch (exact; used after every applied move)."""
        eligible = [h for h in self.hosts.values() if h.eligible]
        self.count = len(eligible)
        self.total = sum(h.util for h in eligible)
        self.total_sq = sum(h.util * h.util for h in eligible)
        self.penalty = sum(h.pen for h in eligible)
        self.current = sc.cluster_score(self.imbalance(), self.penalty)

    def imbalance(self) -> float:
        return sc.pstdev(self.count, self.total, self.total_sq)

    def move_mib(self, vm: str) -> int:
        """What migrating ``vm`` sends at this state's link speed (memory, dirty rate, local disks)."""
        spec = self.vms[vm]
        return sc.move_mib(spec.size, spec.dirty_rate_mib_s, self.migration_mib_s)

    def score(self) -> float:
        """The cluster score: balance and overload (``current``) minus the soft-rule penalty."""
        return self.current - self.policy.soft_rule_weight * self.soft

    def soft_delta(self, vm: str, dest: str) -> float:
        """Score change from soft rules if ``vm`` moved to ``dest``."""
        if vm not in self.rules.soft:
            return 0.0
        return -self.policy.soft_rule_weight * self.rules.soft_change(vm, dest, self.location)

    def eligible_hosts(self) -> list[HostLoad]:
        return [h for h in self.hosts.values() if h.eligible]

    def spread(self) -> float:
        """max(util) - min(util) over eligible hosts, as a fraction."""
        utils = [h.util for h in self.hosts.values() if h.eligible]
        return max(utils) - min(utils) if utils else 0.0

    def overloaded(self) -> bool:
        return any(h.pen > 0 for h in self.hosts.values() if h.eligible)

    def delta(self, changes: Iterable[Change]) -> tuple[float, float]:
        """(score change, new imbalance) if every host in ``changes`` changed load as given."""
        total, total_sq, penalty = self.total, self.total_sq, self.penalty
        for host, d_bcpu, d_bmem, d_ccpu, d_cmem in changes:
            if not host.eligible:
                continue
            util = host.util_after(d_bcpu, d_bmem)
            total += util - host.util
            total_sq += util * util - host.util * host.util
            penalty += host.pen_after(d_ccpu, d_cmem) - host.pen
        imbalance = sc.pstdev(self.count, total, total_sq)
        return sc.cluster_score(imbalance, penalty) - self.current, imbalance

    def move_delta(self, vm: str, dest: str) -> tuple[float, float]:
        """(score change, new imbalance) if ``vm`` moved from where it is now to ``dest``."""
        d = self.demand[vm]
        bal, cap = d.bal, d.cap
        src = self.hosts[self.location[vm]]
        gain, imbalance = self.delta(((src, -bal.cpu_m, -bal.mem_mib, -cap.cpu_m, -cap.mem_mib),
                                      (self.hosts[dest], bal.cpu_m, bal.mem_mib, cap.cpu_m, cap.mem_mib)))
        named = self.named_delta(((vm, dest),)) if cap.extra else 0.0
        return gain + self.soft_delta(vm, dest) + named, imbalance

    def best_dest(self, vm: str, dests: Iterable[HostLoad]) -> tuple[HostLoad, float, float] | None:
        """Among eligible ``dests`` where ``vm`` fits, the best one, with (score change, new imbalance).

        The hot loop of every strategy. A destination the VM fits on stays within its usable capacity, so
        its penalty does not change and the best destination is the one with the smallest new variance of
        utilisation; that is computed inline from cached sums (O(1) per host). The winner's score change
        is then computed exactly by :meth:`move_delta`.
        """
        d = self.demand[vm]
        source = self.hosts[self.location[vm]]
        total, total_sq = self._without_source(source, d)
        c_cpu, c_mem, b_cpu, b_mem, n = d.cap.cpu_m, d.cap.mem_mib, d.bal.cpu_m, d.bal.mem_mib, self.count
        best: HostLoad | None = None
        best_var = math.inf
        for h in dests:
            if h is source or h.cap_cpu + c_cpu > h.usable_cpu or h.cap_mem + c_mem > h.usable_mem:
                continue
            util = max((h.bal_cpu + b_cpu) * h.inv_cpu, (h.bal_mem + b_mem) * h.inv_mem)
            mean = (total + util - h.util) / n
            var = (total_sq + util * util - h.util * h.util) / n - mean * mean
            if var < best_var:
                best, best_var = h, var
        if best is None:
            return None
        return (best, *self.move_delta(vm, best.name))

    def _without_source(self, source: HostLoad, d: Demand) -> tuple[float, float]:
        """The sum and sum of squares of utilisation once the VM has left ``source``."""
        if not source.eligible:
            return self.total, self.total_sq
        util = source.util_after(-d.bal.cpu_m, -d.bal.mem_mib)
        return self.total + util - source.util, self.total_sq + util * util - source.util * source.util

    def moves_left(self, vm: str) -> int | None:
        """The moves ``vm`` may still make in this rolling day under ``policy.max_moves_per_vm_per_day`` (a move in
        this plan counts); None without a cap."""
        cap = self.policy.max_moves_per_vm_per_day
        if not cap:
            return None
        return cap - self.recent.get(vm, 0) - (vm in self.moved)

    def apply(self, vm: str, dest: str) -> None:
        """Move ``vm`` to ``dest`` in this state and mark it moved."""
        source = self.location[vm]
        if vm in self.rules.soft:
            self.soft += self.rules.soft_change(vm, dest, self.location)
        for host, sign in ((self.hosts[source], -1), (self.hosts[dest], 1)):
            self._account(host, -1)
            self._add_extra(host.name, vm, sign)
            host.add(self.demand[vm], sign)
            self._account(host, 1)
        self.on_host[source].remove(vm)
        self.on_host[dest].append(vm)
        self.location[vm] = dest
        self.moved.add(vm)
        self._applied += 1
        if self._applied % max(_RESUM_EVERY, self.count) == 0:
            self._resum()
        self.current = sc.cluster_score(self.imbalance(), self.penalty)

    def _account(self, host: HostLoad, sign: int) -> None:
        """Add (1) or take out (-1) one host's part of the score sums."""
        if host.eligible:
            self.total += sign * host.util
            self.total_sq += sign * host.util * host.util
            self.penalty += sign * host.pen


def _add_named(load: dict[str, int], extra: Iterable[tuple[str, int]], sign: int) -> None:
    """Add (sign 1) or take out (-1) named resource amounts ``extra`` in ``load``."""
    for name, amount in extra:
        load[name] = load.get(name, 0) + sign * amount
