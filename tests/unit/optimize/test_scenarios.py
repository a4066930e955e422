"""Table-driven runner over the YAML clusters in tests/scenarios/ (and tests/scenarios/regression/).

Each file is one small cluster, written out here or (``cluster: FILE.toml``, beside the YAML file) a described
cluster file in the format of ``[sim] cluster``, collected from the simulated backend (two samples a minute
apart; its rules appended to ``policy.rules``, its maintenance hosts in maintenance)::

    hosts:    [{name, cpu, mem, usage: [cpu, mem]?, reachable?, maintenance?, domain?,
                networks: [name]?, cpu_group?, cpu_models: [name]?, migration_problem?, pools: {dir: free MiB}?}]
    vms:      [{name, host, cpu, mem, use: [cpu, mem]?, running?, live?,      (use defaults to the size)
                networks: [name]?, cpu_mode?, cpu_model?, disks: {dir: MiB}?, dirty: MiB/s?}]
    in_flight: [{vm, source, dest}]?      cooldown: [vm]?      policy: {PolicyConfig field: value}?
    failures: [{vm, dest, count, retry_in: s, error?}]?   (the snapshot is taken at time 0)
    maintenance_order: [host]? (the order hosts entered maintenance)   forced: [host]? (drain --force)
    restores: [{host, vms: [{vm, placed}]}]? (move-back requests: each VM and where its drain put it)
    at: ISO 8601 time with its offset? (when the snapshot is taken; default the epoch: blackout windows,
        ``policy.blackout``, are judged at it)
    journal: {moves: [{vm, source, dest, ago_s}], external: [{vm, source, dest, ago_s}]}? (balancerd's
        succeeded moves and external moves that long before ``at``; with it or ``policy.blackout`` the daemon's
        own limits, service.limits.MoveLimits over a real journal, give the cooldown, the capped VMs, what may start)
    (policy.rules / policy.domains: lists of RuleConfig / DomainConfig fields, as in [[policy.rules]])
    expect:   empty, moves: [{vm, dest, source?, kind?}] (exact order), moves_include, skipped: [vm],
              skip_reasons: {vm: substring}, max_moves, hosts_empty: [h], untouched: [h], strategy,
              reasons: {vm: substring}, unmoved: [vm], power_off: [h], violations: [substring],
              explain: {vm: substring}, held: [vm], drains: {host: {feasible, blockers: [vm]?}},
              restores: {host: {back?, moving?, pending?, gone?, blocked?: [vm]}},
              notes: [substring], purposes: {vm: balance | drain | restore | repair}
              (any other expect key fails the scenario, naming the key and the allowed ones)

Host usage defaults to the usage of the VMs on it (plus in-flight ones). Every scenario is also checked for
the safe-ordering invariant (no destination over full capacity after any prefix, VM counted on both),
objective >= bound, and that every skip reason names the host it is about.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.described import cluster_specs
from balancerd.clock import FakeClock
from balancerd.collect import Collector
from balancerd.config import PolicyConfig, RuleConfig, cluster
from balancerd.journal import Journal
from balancerd.model import (
    POOL_PREFIX,
    ClusterSnapshot,
    ExternalMove,
    Extra,
    FailureRecord,
    Forecast,
    Host,
    InFlight,
    Move,
    MoveKind,
    MoveResult,
    Outcome,
    Plan,
    Resources,
    Restore,
    Vm,
)
from balancerd.optimize import DrainInputs, Limits, explain, plan
from balancerd.service.limits import MoveLimits
from tests import builders

ROOT = Path(__file__).resolve().parents[2] / "scenarios"
FILES = sorted(ROOT.glob("*.yaml")) + sorted((ROOT / "regression").glob("*.yaml"))


def _pools(disks: dict[str, int]) -> Extra:
    return tuple(sorted((POOL_PREFIX + path, mib) for path, mib in disks.items()))


def _vm(spec: dict[str, Any]) -> Vm:
    """A YAML VM spec as a Vm (usage defaults to the size; local disks are pool resources of its size)."""
    use = Resources(*spec["use"]) if "use" in spec else None
    made = builders.vm(spec["name"], spec["host"], spec["cpu"], spec["mem"], usage=use,
                       running=spec.get("running", True), live=spec.get("live", True),
                       extra=_pools(spec.get("disks", {})), dirty_rate_mib_s=spec.get("dirty", 0))
    return dataclasses.replace(made, networks=frozenset(spec.get("networks", ())), cpu_mode=spec.get("cpu_mode", ""),
                               cpu_model=spec.get("cpu_model", ""))


def _facts(host: Host, spec: dict[str, Any], vms: list[Vm]) -> Host:
    """The pre-flight facts of a YAML host; a pool's capacity is its free space plus its residents' disks."""
    pools = {POOL_PREFIX + path: free for path, free in spec.get("pools", {}).items()}
    for vm in (v for v in vms if v.host == host.name):
        for name, mib in vm.size.extra:
            if name in pools:
                pools[name] += mib
    capacity = Resources(host.capacity.cpu_m, host.capacity.mem_mib, tuple(sorted(pools.items())))
    models = spec.get("cpu_models")
    return dataclasses.replace(host, capacity=capacity, networks=frozenset(spec["networks"]) if "networks" in spec
                               else None, cpu_group=spec.get("cpu_group", ""),
                               cpu_models=frozenset(models) if models is not None else None,
                               migration_problem=spec.get("migration_problem", ""))


def _host(spec: dict[str, Any], vms: list[Vm], flights: list[InFlight]) -> Host:
    counted = [vm for vm in vms if vm.host == spec["name"]]
    counted += [vm for vm in vms for f in flights if f.vm == vm.name and spec["name"] in (f.source, f.dest)
                and vm.host != spec["name"]]
    usage = Resources(*spec["usage"]) if "usage" in spec else Resources.total(vm.usage for vm in counted)
    made = builders.host(spec["name"], spec["cpu"], spec["mem"], usage=usage, reachable=spec.get("reachable", True),
                         maintenance=spec.get("maintenance", False), domain=spec.get("domain", ""))
    return _facts(made, spec, vms)


EXPECT_KEYS = frozenset({"empty", "moves", "moves_include", "skipped", "skip_reasons", "max_moves", "hosts_empty",
                         "untouched", "strategy", "reasons", "unmoved", "power_off", "violations", "explain",
                         "infeasible", "held", "drains", "restores", "notes", "purposes"})
"""Every key ``expect`` may hold; any other (a typo) fails the scenario instead of being ignored."""


class ScenarioError(ValueError):
    """A scenario file that the runner cannot check as written."""


def checked_expect(path: Path, expect: object) -> dict[str, Any]:
    """``expect`` of ``path``, or ScenarioError naming the unknown keys and the allowed ones."""
    if not isinstance(expect, dict):
        raise ScenarioError(f"{path.name}: 'expect' must be a mapping, got {expect!r}")
    unknown = sorted(set(expect) - EXPECT_KEYS)
    if unknown:
        raise ScenarioError(f"{path.name}: unknown expect key(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(sorted(EXPECT_KEYS))}")
    return expect


@dataclasses.dataclass(frozen=True)
class Loaded:
    snap: ClusterSnapshot
    policy: PolicyConfig
    cooldown: frozenset[str]
    expect: dict[str, Any]
    failures: tuple[FailureRecord, ...]
    drains: DrainInputs
    limits: Limits


def _failures(doc: dict[str, Any], at: float) -> tuple[FailureRecord, ...]:
    return tuple(FailureRecord(f["vm"], f["dest"], f["count"], at + float(f.get("retry_in", 0)), f.get("error", ""))
                 for f in doc.get("failures", []))


def _at(doc: dict[str, Any]) -> float:
    when = doc.get("at")
    if when is None:
        return 0.0
    moment = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _limits(doc: dict[str, Any], policy: PolicyConfig, at: float) -> tuple[frozenset[str], Limits]:
    """The cooldown and limits the daemon's MoveLimits gives at ``at`` over a journal holding ``doc['journal']``."""
    written = doc.get("journal", {})
    journal = Journal(Path(":memory:"))
    try:
        plan_id = journal.record_plan(Plan(0, at, (), 0.0, 0.0, "balance"), "enforce")
        for row in written.get("moves", []):
            then = at - float(row["ago_s"])
            move = Move(row["vm"], row["source"], row["dest"], MoveKind.LIVE, "balance", 0.0, 0)
            record = journal.migration_started(plan_id, move, then - 5.0)
            journal.migration_ended(record, MoveResult(move, Outcome.SUCCEEDED, then - 5.0, then))
        journal.record_external(tuple(ExternalMove(r["vm"], r["source"], r["dest"], at - float(r["ago_s"]))
                                      for r in written.get("external", [])))
        limits = MoveLimits(journal, policy)
        return limits.cooldown(at), limits.for_plan(at)
    finally:
        journal.close()


def load(path: Path) -> Loaded:
    doc = yaml.safe_load(path.read_text())
    expect = checked_expect(path, doc.get("expect"))
    policy = builders.policy(doc.get("policy", {}))
    if "cluster" in doc:
        snap, rules = _described(path.parent / doc["cluster"])
        policy = dataclasses.replace(policy, rules=policy.rules + rules)
    else:
        vms = [_vm(v) for v in doc.get("vms", [])]
        flights = [InFlight(f["vm"], f["source"], f["dest"]) for f in doc.get("in_flight", [])]
        hosts = tuple(_host(h, vms, flights) for h in doc["hosts"])
        snap = builders.snapshot(hosts, vms, flights)
    at = _at(doc)
    snap = dataclasses.replace(snap, taken_at=at)
    restores = tuple(Restore(r["host"], tuple((v["vm"], v["placed"]) for v in r["vms"]))
                     for r in doc.get("restores", ()))
    drains = DrainInputs(order=tuple(doc.get("maintenance_order", ())), forced=frozenset(doc.get("forced", ())),
                         restores=restores)
    cooldown, limits = frozenset(doc.get("cooldown", [])), Limits()
    if "journal" in doc or policy.blackout:
        recent, limits = _limits(doc, policy, at)
        cooldown |= recent
    return Loaded(snap, policy, cooldown, expect, _failures(doc, at), drains, limits)


def _described(path: Path) -> tuple[ClusterSnapshot, tuple[RuleConfig, ...]]:
    """The snapshot the collector takes of a described cluster (at time 0, rates over the minute before)."""
    described = cluster.read(path)
    clock = FakeClock(-60.0)
    hosts, vms = cluster_specs(described)
    collector = Collector(SimCluster(hosts, vms, clock), include_node_overhead=False)
    collector.collect(clock.now(), described.maintenance)
    clock.advance(60.0)
    return collector.collect(clock.now(), described.maintenance).snapshot, described.rules


def over_capacity(snap: ClusterSnapshot, result: Plan) -> list[str]:
    """Prefix check with memory = size and CPU = usage (the scenarios have no forecast)."""
    vms = {vm.name: vm for vm in snap.vms}
    need = {n: Resources(vm.usage.cpu_m, max(vm.size.mem_mib, vm.usage.mem_mib)) for n, vm in vms.items()}
    loads = {h.name: Resources(h.usage.cpu_m, h.usage.mem_mib) for h in snap.hosts}
    for vm in snap.vms:  # memory is allocated at its size, not its usage
        extra = Resources(0, need[vm.name].mem_mib - vm.usage.mem_mib)
        for f in [f for f in snap.in_flight if f.vm == vm.name] or [InFlight(vm.name, vm.host, vm.host)]:
            for name in {f.source, f.dest}:
                loads[name] = loads[name] + extra
    bad = []
    for i, move in enumerate(result.moves):
        if not (loads[move.dest] + need[move.vm]).fits_in(snap.host(move.dest).capacity):
            bad.append(f"step {i}: {move.vm} -> {move.dest}")
        loads[move.dest] = loads[move.dest] + need[move.vm]
        loads[move.source] = loads[move.source] - need[move.vm]
    return bad


def _final(snap: ClusterSnapshot, result: Plan) -> dict[str, str]:
    where = {vm.name: vm.host for vm in snap.vms}
    for move in result.moves:
        where[move.vm] = move.dest
    return where


def _check_moves(result: Plan, expect: dict[str, Any]) -> None:
    got = [{"vm": m.vm, "dest": m.dest, "source": m.source, "kind": str(m.kind)} for m in result.moves]
    if "moves" in expect:
        wanted = expect["moves"]
        assert [{k: g[k] for k in w} for g, w in zip(got, wanted, strict=False)] == wanted, got
        assert len(got) == len(wanted), got
    for want in expect.get("moves_include", []):
        assert any({k: g[k] for k in want} == want for g in got), (want, got)
    if "max_moves" in expect:
        assert len(result.moves) <= expect["max_moves"]
    if expect.get("empty"):
        assert result.empty, got


def _check_skips(result: Plan, expect: dict[str, Any]) -> None:
    skipped = {s.vm: " | ".join(s.reasons) for s in result.skipped}
    if "skipped" in expect:
        assert sorted(skipped) == sorted(expect["skipped"]), skipped
    for vm, text in expect.get("skip_reasons", {}).items():
        assert text in skipped.get(vm, ""), skipped


def _check_hosts(snap: ClusterSnapshot, result: Plan, expect: dict[str, Any]) -> None:
    where = _final(snap, result)
    for host in expect.get("hosts_empty", []):
        assert host not in where.values(), where
    for host in expect.get("untouched", []):
        assert all(host not in (m.source, m.dest) for m in result.moves)
    for vm, text in expect.get("reasons", {}).items():
        assert any(text in m.reason for m in result.moves if m.vm == vm), [m.reason for m in result.moves]
    if "strategy" in expect:
        assert result.strategy == expect["strategy"]
    for vm in expect.get("unmoved", []):
        assert all(m.vm != vm for m in result.moves), [m.vm for m in result.moves]
    if "held" in expect:
        assert sorted(s.vm for s in result.held) == sorted(expect["held"]), result.held
    if "power_off" in expect:
        assert list(result.power_off) == expect["power_off"]
    for text in expect.get("violations", []):
        assert any(text in v for v in result.violations), result.violations
    if "infeasible" in expect:
        want = expect["infeasible"]
        assert len(result.infeasible) == len(want) and all(w in f for w, f in zip(want, result.infeasible,
                                                                                   strict=True)), result.infeasible
        assert all(f"infeasible: {f}" in result.notes for f in result.infeasible)


def _check_drains(result: Plan, expect: dict[str, Any]) -> None:
    """``drains: {host: {feasible: bool, blockers: [vm, ...]}}`` against the plan's drain proofs."""
    proofs = {e.host: e for e in result.drains}
    for host, want in expect.get("drains", {}).items():
        proof = proofs[host]
        assert proof.feasible == want["feasible"], proof
        if "blockers" in want:
            assert sorted(b.vm for b in proof.blockers) == sorted(want["blockers"]), proof.blockers


def _check_limits(result: Plan, expect: dict[str, Any]) -> None:
    for text in expect.get("notes", []):
        assert any(text in note for note in result.notes), result.notes
    for vm, purpose in expect.get("purposes", {}).items():
        assert [str(m.purpose) for m in result.moves if m.vm == vm] == [purpose], result.moves


def _check_restores(result: Plan, expect: dict[str, Any]) -> None:
    """``restores: {host: {back, moving, pending, gone, blocked: [vm]}}`` (the keys given) against the plan's
    restore progress."""
    progress = {r.host: r for r in result.restores}
    for host, want in expect.get("restores", {}).items():
        got = progress[host]
        found = {"back": got.back, "moving": got.moving, "pending": got.pending, "gone": [vm for vm, _ in got.gone],
                 "blocked": [vm for vm, _ in got.blocked]}
        for key, vms in want.items():
            assert sorted(found[key]) == sorted(vms), (key, got)


def test_an_unknown_expect_key_fails_naming_it_and_the_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("hosts: [{name: h1, cpu: 1000, mem: 1024}]\nexpect: {empty: true, moves_includes: []}\n")
    with pytest.raises(ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith("typo.yaml: unknown expect key(s) moves_includes; allowed: drains, empty, explain, ")
    assert all(key in message for key in EXPECT_KEYS)


def test_expect_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    path.write_text("hosts: [{name: h1, cpu: 1000, mem: 1024}]\n")
    with pytest.raises(ScenarioError, match=r"none\.yaml: 'expect' must be a mapping, got None"):
        load(path)


def test_there_are_scenarios() -> None:
    assert len(FILES) >= 10
    assert any(p.parent.name == "regression" for p in FILES)


def unplaced_reasons(snap: ClusterSnapshot, result: Plan) -> list[str]:
    """Skip reasons that name no host of the snapshot (every reason says which host it is about)."""
    hosts = [h.name for h in snap.hosts]
    return [f"{skip.vm}: {reason}" for skip in (*result.skipped, *result.held) for reason in skip.reasons
            if not any(re.search(rf"(?<![\w-]){re.escape(h)}(?![\w-])", reason) for h in hosts)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario(path: Path) -> None:
    case = load(path)
    snap, expect = case.snap, case.expect
    inputs: dict[str, Any] = {"failures": case.failures, "drains": case.drains, "limits": case.limits}
    result = plan(snap, Forecast(300), case.policy, case.cooldown, **inputs)
    assert over_capacity(snap, result) == []
    _check_moves(result, expect)
    _check_skips(result, expect)
    _check_hosts(snap, result, expect)
    _check_drains(result, expect)
    _check_restores(result, expect)
    _check_limits(result, expect)
    assert result.objective >= result.lower_bound - 1e-9
    assert unplaced_reasons(snap, result) == []
    assert all(m.purpose in case.limits.allowed for m in result.moves), result.moves
    for vm, text in expect.get("explain", {}).items():
        lines = explain(snap, Forecast(300), case.policy, vm, case.cooldown, **inputs)
        assert any(text in line for line in lines), lines
