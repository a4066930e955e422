"""Hypothesis invariants of ``balancerd.optimize.plan`` over generated clusters.

The checks below recompute loads from the snapshot on their own (not through the optimizer's state), so a
wrong load model inside the optimizer shows up as a failure here.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from balancerd.config import RULE_KINDS, PolicyConfig, RuleConfig
from balancerd.config.checks import SOFT_KINDS
from balancerd.model import ClusterSnapshot, Forecast, InFlight, Plan, Resources, Vm, VmForecast
from balancerd.optimize import DrainInputs, check_drain, plan
from balancerd.optimize.balance import movable_vms
from balancerd.optimize.state import ClusterState
from tests import builders
from tests.unit.optimize.test_scenarios import unplaced_reasons

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------ independent model


def cap_demand(vm: Vm, forecast: Forecast) -> Resources:
    f = forecast.as_mapping().get(vm.name)
    upper = f.upper if f else vm.usage
    return Resources(upper.cpu_m, max(vm.size.mem_mib, upper.mem_mib), upper.max_with(vm.size).extra)


def start_loads(snap: ClusterSnapshot, forecast: Forecast) -> dict[str, Resources]:
    """Capacity load per host: non-VM overhead plus the capacity demand of every VM counted on it."""
    flights = {f.vm: f for f in snap.in_flight}
    used = {h.name: Resources() for h in snap.hosts}
    demand = {h.name: Resources() for h in snap.hosts}
    for vm in snap.vms:
        f = flights.get(vm.name)
        for name in {vm.host} | ({f.source, f.dest} if f else set()):
            used[name] = used[name] + vm.usage
            demand[name] = demand[name] + cap_demand(vm, forecast)
    loads = {}
    for h in snap.hosts:
        overhead = Resources(max(0, h.usage.cpu_m - used[h.name].cpu_m),
                             max(0, h.usage.mem_mib - used[h.name].mem_mib))
        loads[h.name] = demand[h.name] + overhead
    return loads


def over_capacity_steps(snap: ClusterSnapshot, forecast: Forecast, result: Plan) -> list[str]:
    """Every prefix step where the destination would exceed its full capacity (VM counted on both)."""
    loads = start_loads(snap, forecast)
    vms = {vm.name: vm for vm in snap.vms}
    problems = []
    for i, move in enumerate(result.moves):
        need = cap_demand(vms[move.vm], forecast)
        if not (loads[move.dest] + need).fits_in(snap.host(move.dest).capacity):
            problems.append(f"move {i} {move.vm} -> {move.dest}")
        loads[move.dest] = loads[move.dest] + need
        loads[move.source] = loads[move.source] - need
    return problems


def final_hosts(snap: ClusterSnapshot, result: Plan) -> dict[str, str]:
    where = {vm.name: vm.host for vm in snap.vms}
    for move in result.moves:
        assert where[move.vm] == move.source, f"{move.vm} moves from {move.source} but is on {where[move.vm]}"
        where[move.vm] = move.dest
    return where


# ------------------------------------------------------------------------------------------ generators


@st.composite
def vm_specs(draw: st.DrawFn, name: str, named: bool = False) -> tuple[Vm, VmForecast | None]:
    """A VM; with ``named``, it also asks for 1-8 of the named resource "vcpu" (a vCPU limit)."""
    extra = (("vcpu", draw(st.integers(1, 8))),) if named else ()
    size = Resources(draw(st.integers(250, 8000)), draw(st.integers(256, 8192)))
    usage = Resources(draw(st.integers(0, size.cpu_m)), draw(st.integers(0, size.mem_mib)))
    vm = builders.vm(name, "", size.cpu_m, size.mem_mib, usage=usage, extra=extra,
                     running=draw(st.sampled_from([True, True, True, False])),
                     live=draw(st.sampled_from([True, True, True, False])))
    if draw(st.booleans()):
        return vm, None
    point = Resources(draw(st.integers(0, size.cpu_m)), usage.mem_mib)
    upper = Resources(point.cpu_m + draw(st.integers(0, 2000)), point.mem_mib + draw(st.integers(0, 512)))
    return vm, VmForecast(name, point, upper)


@st.composite
def clusters(draw: st.DrawFn) -> tuple[ClusterSnapshot, Forecast, PolicyConfig]:
    """A cluster whose start state is within full capacity (placement only where a VM fits); in some, hosts
    declare a vCPU limit (a named resource) that the VMs ask for."""
    n_hosts = draw(st.integers(2, 12))
    named = draw(st.integers(0, 3)) == 0
    caps = [Resources(draw(st.integers(4000, 64000)), draw(st.integers(4096, 65536)),
                      (("vcpu", draw(st.integers(4, 48))),) if named else ()) for _ in range(n_hosts)]
    names = [f"h{i:02d}" for i in range(n_hosts)]
    overhead = [Resources(draw(st.integers(0, 500)), draw(st.integers(0, 1024))) for _ in range(n_hosts)]
    loads = dict(zip(names, overhead, strict=True))
    capacity = dict(zip(names, caps, strict=True))
    vms: list[Vm] = []
    forecasts: list[VmForecast] = []
    flights: list[InFlight] = []
    usage = dict(loads)
    for j in range(draw(st.integers(0, 60))):
        vm, fc = draw(vm_specs(f"vm{j:02d}", named))
        need = cap_demand(vm, Forecast(300, (fc,) if fc else ()))
        host = draw(st.sampled_from(names))
        if not (loads[host] + need).fits_in(capacity[host]):
            continue
        vm = dataclasses.replace(vm, host=host)
        loads[host] = loads[host] + need
        usage[host] = usage[host] + vm.usage
        other = draw(st.sampled_from(names))
        if other != host and draw(st.integers(0, 9)) == 0 and (loads[other] + need).fits_in(capacity[other]):
            loads[other] = loads[other] + need
            usage[other] = usage[other] + vm.usage
            flights.append(InFlight(vm.name, host, other))
        vms.append(vm)
        forecasts.extend([fc] if fc else [])
    hosts = [builders.host(n, capacity[n].cpu_m, capacity[n].mem_mib, usage=usage[n], extra=capacity[n].extra,
                           reachable=draw(st.integers(0, 6)) > 0, maintenance=draw(st.integers(0, 4)) == 0)
             for n in names]
    policy = PolicyConfig(headroom_pct=draw(st.integers(0, 40)), imbalance_threshold_pct=draw(st.integers(0, 30)),
                          max_moves_per_cycle=draw(st.integers(0, 30)),
                          min_gain=draw(st.sampled_from([0.0, 0.001, 0.01, 0.05])))
    snap = builders.snapshot(hosts, vms, flights, seq=7, at=123.0)
    return snap, Forecast(300, tuple(forecasts)), policy


@st.composite
def drainable(draw: st.DrawFn) -> tuple[ClusterSnapshot, Forecast, PolicyConfig]:
    """A cluster with a spare host big enough for everything, no in-flight moves, reachable maintenance hosts."""
    snap, forecast, policy = draw(clusters())
    hosts = [dataclasses.replace(h, reachable=h.reachable or h.maintenance) for h in snap.hosts]
    named = tuple(sorted({(name, 10_000_000) for h in snap.hosts for name, _ in h.capacity.extra}))
    spare = builders.host("spare", 10_000_000, 10_000_000, extra=named)
    snap = builders.snapshot([*hosts, spare], snap.vms, seq=snap.seq, at=snap.taken_at)
    return snap, forecast, PolicyConfig(headroom_pct=policy.headroom_pct, max_moves_per_cycle=1000,
                                        imbalance_threshold_pct=policy.imbalance_threshold_pct)


@st.composite
def balanced(draw: st.DrawFn) -> tuple[ClusterSnapshot, Forecast, PolicyConfig]:
    """Identical hosts with identical VMs, all within usable capacity: every utilisation is equal."""
    n_hosts = draw(st.integers(2, 12))
    per_host = [draw(vm_specs(f"t{k}"))[0] for k in range(draw(st.integers(0, 5)))]
    vms = [builders.vm(f"h{i}-{vm.name}", f"h{i}", vm.size.cpu_m, vm.size.mem_mib, usage=vm.usage)
           for i in range(n_hosts) for vm in per_host]
    used = Resources.total(vm.usage for vm in per_host)
    hosts = [builders.host(f"h{i}", 64000, 65536, usage=used) for i in range(n_hosts)]
    policy = PolicyConfig(headroom_pct=draw(st.integers(0, 40)), imbalance_threshold_pct=draw(st.integers(0, 30)),
                          min_gain=0.0, max_moves_per_cycle=50)
    return builders.snapshot(hosts, vms), Forecast(300), policy


# -------------------------------------------------------------------------------------------- properties


@SETTINGS
@given(clusters())
def test_no_host_over_capacity_after_any_prefix(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    assert over_capacity_steps(snap, forecast, result) == []
    final_hosts(snap, result)  # every move starts where the VM is


@SETTINGS
@given(clusters())
def test_no_vm_moves_twice_except_through_a_parking_host(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    parks = Counter(m.vm for m in result.moves if m.reason.startswith("park:"))
    others = Counter(m.vm for m in result.moves if not m.reason.startswith("park:"))
    assert max(others.values(), default=0) <= 1
    assert max(parks.values(), default=0) <= 1
    assert set(parks) <= set(others)
    assert len(result.moves) <= policy.max_moves_per_cycle


@SETTINGS
@given(clusters())
def test_no_move_touches_unreachable_hosts_or_in_flight_vms(
        case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy, cooldown=frozenset(vm.name for vm in snap.vms[::3]))
    flying = {f.vm for f in snap.in_flight}
    for move in result.moves:
        assert snap.host(move.source).reachable and snap.host(move.dest).reachable
        assert not snap.host(move.dest).maintenance
        assert move.vm not in flying
        if move.reason.startswith("balance"):
            assert move.vm not in {vm.name for vm in snap.vms[::3]}, "cooldown ignored"


@SETTINGS
@given(drainable())
def test_maintenance_hosts_end_empty_when_there_is_room(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    where = final_hosts(snap, result)
    left = {vm: host for vm, host in where.items() if snap.host(host).maintenance}
    assert left == {}
    assert result.skipped == ()


@SETTINGS
@given(balanced())
def test_balanced_cluster_yields_empty_plan(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    assert result.empty
    assert result.score_after == result.score_before


@SETTINGS
@given(clusters())
def test_pure_balance_plans_do_not_lower_the_score(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    if result.strategy == "balance":
        assert result.score_after >= result.score_before - 1e-9
        singles = [m for m in result.moves if "(swap)" not in m.reason and not m.reason.startswith("park:")]
        # min_gain is per eligible host and scaled by migration cost (unit-tested in test_scoring); every
        # accepted balance move gains something
        assert all(m.gain > 0 for m in singles)
        swap_gain = sum(m.gain for m in result.moves if "(swap)" in m.reason)
        assert swap_gain >= -1e-9


@SETTINGS
@given(clusters())
def test_objective_is_never_below_the_lower_bound(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    assert result.lower_bound >= 0.0
    assert result.objective >= result.lower_bound - 1e-9
    assert result.gap >= 0.0
    assert -result.score_before >= result.lower_bound - 1e-9


@SETTINGS
@given(clusters(), st.data())
def test_no_plan_within_the_budget_beats_the_bound(case: tuple[ClusterSnapshot, Forecast, PolicyConfig],
                                                   data: st.DataObject) -> None:
    """Any relocation of at most the budget's worth of VMs the planner may move (capacity aside) ends at an
    objective at or above the plan's bound, not just the plan balancerd chose."""
    snap, forecast, policy = case
    policy = dataclasses.replace(policy, max_moves_per_cycle=data.draw(st.integers(0, 4)))
    result = plan(snap, forecast, policy)
    state = ClusterState(snap, forecast, policy, frozenset())
    candidates = sorted(set(movable_vms(state)) | {v.name for v in snap.vms if snap.host(v.host).maintenance})
    eligible = [h.name for h in state.eligible_hosts()]
    assume(eligible and candidates)
    budget = policy.max_moves_per_cycle
    chosen = data.draw(st.lists(st.sampled_from(candidates), max_size=min(budget, len(candidates)), unique=True))
    for name in chosen:
        state.apply(name, data.draw(st.sampled_from(eligible)))
    assert -state.score() >= result.lower_bound - 1e-9


@SETTINGS
@given(st.integers(2, 12), st.integers(1, 3))
def test_the_bound_is_above_zero_when_the_budget_cannot_balance(hosts: int, budget: int) -> None:
    """All load on one host, more VMs than the budget can move: the bound says so."""
    snap = builders.grid([[500] * (4 * budget * hosts)] + [[] for _ in range(hosts - 1)], vm_mem_mib=64)
    result = plan(snap, Forecast(300), PolicyConfig(max_moves_per_cycle=budget, headroom_pct=0))
    assume(-result.score_before > 0)
    assert result.lower_bound > 0.0
    assert result.objective >= result.lower_bound - 1e-9


@SETTINGS
@given(clusters())
def test_the_tradeoff_curve_runs_from_the_start_to_the_plans_objective(
        case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    assert len(result.tradeoff) == len(result.moves) + 1
    assert math.isclose(result.tradeoff[0], -result.score_before, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(result.tradeoff[-1], result.objective, rel_tol=1e-9, abs_tol=1e-9)


# ---------------------------------------------------------------------------------------- placement rules


@st.composite
def ruled(draw: st.DrawFn) -> tuple[ClusterSnapshot, Forecast, PolicyConfig]:
    """A generated cluster with every kind of placement rule over random VMs and hosts, and failure domains."""
    snap, forecast, policy = draw(clusters())
    names = [vm.name for vm in snap.vms]
    hosts = [h.name for h in snap.hosts]
    domains = [dataclasses.replace(h, domain=f"rack{draw(st.integers(0, 2))}") for h in snap.hosts]
    rules = []
    for kind in RULE_KINDS:
        for _ in range(draw(st.integers(0, 2))):
            vms = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True)) if names else ["none"]
            picked = tuple(draw(st.lists(st.sampled_from(hosts), min_size=1, max_size=3, unique=True)))
            on = tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))) \
                if kind == "depends" and names else ()
            weight = draw(st.sampled_from([0.5, 1.0, 4.0])) if kind in SOFT_KINDS else 1.0
            rules.append(RuleConfig(kind=kind, name=f"{kind}-{len(rules)}", vms=tuple(vms), hosts=picked,
                                    min_domains=draw(st.integers(1, 3)), on=on, weight=weight))
    strategy = draw(st.sampled_from(["balance", "balance", "consolidate", "drain"]))
    policy = dataclasses.replace(policy, rules=tuple(rules), strategy=strategy)
    return dataclasses.replace(snap, hosts=tuple(domains)), forecast, policy


def _members(policy: PolicyConfig, kind: str, known: set[str]) -> list[tuple[RuleConfig, set[str]]]:
    return [(r, set(r.vms) & known) for r in policy.rules if r.kind == kind]


@SETTINGS
@given(ruled())
def test_every_plan_respects_every_rule_kind(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    assert result.objective >= result.lower_bound - 1e-9  # soft VM-VM rules included
    end = check_rules(snap, forecast, policy, result)
    assert result.objective >= result.lower_bound - 1e-9
    if policy.strategy == "consolidate":
        assert all(host not in end.values() for host in result.power_off)


def check_rules(snap: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig, result: Plan) -> dict[str, str]:
    """Capacity after every prefix, every VM placed, pins, exclusions, host and group rules; the end placement."""
    assert over_capacity_steps(snap, forecast, result) == []
    assert unplaced_reasons(snap, result) == []
    start = {vm.name: vm.host for vm in snap.vms}
    end = final_hosts(snap, result)
    known = set(start)
    frozen = set().union(*(m for _, m in _members(policy, "pin", known) + _members(policy, "exclude", known)))
    assert not [m.vm for m in result.moves if m.vm in frozen]
    for rule, members in _members(policy, "must", known):
        assert all(m.dest in rule.hosts for m in result.moves if m.vm in members), rule
    for rule, members in _members(policy, "must_not", known):
        assert all(m.dest not in rule.hosts for m in result.moves if m.vm in members), rule
    _check_groups(snap, policy, start, end)
    return end


def _check_groups(snap: ClusterSnapshot, policy: PolicyConfig, start: dict[str, str], end: dict[str, str]) -> None:
    domain = {h.name: h.domain for h in snap.hosts}
    maintenance = {h.name for h in snap.hosts if h.maintenance}
    for rule, members in _members(policy, "anti_affinity", set(start)):
        before = [start[v] for v in members]
        after = [end[v] for v in members]
        if len(set(before)) == len(before):
            assert len(set(after)) == len(after), (rule, after)
    for rule, members in _members(policy, "affinity", set(start)):
        if len({start[v] for v in members}) == 1 and not {start[v] for v in members} & maintenance:
            assert len({end[v] for v in members}) == 1, rule
    for rule, members in _members(policy, "spread", set(start)):
        before = len({domain[start[v]] for v in members})
        after = len({domain[end[v]] for v in members})
        assert after >= min(rule.min_domains, before), rule
    for rule, members in _members(policy, "depends", set(start)):
        needs = set(rule.on) & set(start)
        if {domain[start[v]] for v in members} <= {domain[start[v]] for v in needs}:
            assert {domain[end[v]] for v in members} <= {domain[end[v]] for v in needs}, (rule, end)


def _after(snap: ClusterSnapshot, result: Plan) -> ClusterSnapshot:
    """The snapshot once every move of ``result`` succeeded (host usage follows its VMs)."""
    where = final_hosts(snap, result)
    vms = {vm.name: vm for vm in snap.vms}
    usage = {h.name: h.usage for h in snap.hosts}
    for name, host in where.items():
        if host != vms[name].host:
            usage[vms[name].host] = usage[vms[name].host] - vms[name].usage
            usage[host] = usage[host] + vms[name].usage
    hosts = tuple(dataclasses.replace(h, usage=usage[h.name]) for h in snap.hosts)
    return dataclasses.replace(snap, hosts=hosts, vms=tuple(dataclasses.replace(v, host=where[v.name])
                                                            for v in snap.vms))


@settings(SETTINGS, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(ruled(), st.data())
def test_a_drain_check_that_says_feasible_ends_with_the_host_empty(
        case: tuple[ClusterSnapshot, Forecast, PolicyConfig], data: st.DataObject) -> None:
    """``drain --check`` feasible => the daemon's cycles (at most the budget each) empty the host, with every
    intermediate state within capacity and no rule the start state kept broken."""
    snap, forecast, policy = case
    snap = dataclasses.replace(snap, in_flight=())  # their load stays as host overhead
    candidates = [h.name for h in snap.hosts if h.reachable and not h.maintenance]
    assume(candidates)
    host = data.draw(st.sampled_from(candidates))
    policy = dataclasses.replace(policy, max_moves_per_cycle=data.draw(st.integers(1, 4)))
    order = (*sorted(h.name for h in snap.hosts if h.maintenance), host)
    proof = check_drain(snap, forecast, policy, host, drains=DrainInputs(order=order))
    assume(proof.feasible)
    current = dataclasses.replace(snap, hosts=tuple(dataclasses.replace(h, maintenance=h.maintenance or h.name == host)
                                                    for h in snap.hosts))
    cycles = 0
    for _ in range(len(snap.vms) + 2):
        if not any(vm.host == host for vm in current.vms):
            break
        result = plan(current, forecast, policy, drains=DrainInputs(order=order))
        assert over_capacity_steps(current, forecast, result) == []
        start = {vm.name: vm.host for vm in current.vms}
        after = _after(current, result)
        _check_groups(current, policy, start, {vm.name: vm.host for vm in after.vms})
        assert result.moves, f"the drain of {host} stalled: {result.skipped}"
        current = after
        cycles += 1
    event(f"drained in {min(cycles, 3)}{'+' if cycles >= 3 else ''} cycle(s)")
    assert not [vm.name for vm in current.vms if vm.host == host]


@SETTINGS
@given(ruled())
def test_no_vm_leaves_a_host_whose_drain_is_refused(case: tuple[ClusterSnapshot, Forecast, PolicyConfig]) -> None:
    snap, forecast, policy = case
    result = plan(snap, forecast, policy)
    maintenance = {h.name for h in snap.hosts if h.maintenance}
    assert {e.host for e in result.drains} == maintenance
    refused = {e.host for e in result.drains if not e.drains}
    assert all(e.blockers for e in result.drains if e.host in refused)
    assert not [m for m in result.moves if m.source in refused]
