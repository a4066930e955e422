"""Unit tests for balancerd.optimize.rules (pattern expansion, indexes, violations) and the rule constraints."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from balancerd.config import DomainConfig, PolicyConfig, RuleConfig
from balancerd.model import Forecast
from balancerd.optimize.constraints import ALL_RULES, placement_allows, reasons
from balancerd.optimize.rules import Rules
from balancerd.optimize.state import ClusterState
from tests.builders import host, snapshot, vm

HOSTS = (host("h1", 10000, 8192, domain="r1"), host("h2", 10000, 8192, domain="r1"), host("h3", 10000, 8192))
VMS = (vm("web1", "h1"), vm("web2", "h2"), vm("db", "h1"), vm("disk", "h3", extra=(("disk_gib", 50),)))
"""1-core, 1 GiB VMs using their whole size; disk also needs 50 GiB of local disk."""
SNAP = snapshot(HOSTS, VMS)


def _state(*rules: RuleConfig, domains: tuple[DomainConfig, ...] = ()) -> ClusterState:
    return ClusterState(SNAP, Forecast(300), PolicyConfig(rules=rules, domains=domains), frozenset())


def test_patterns_and_plain_names_expand_to_known_vms_only() -> None:
    rules = Rules(SNAP, PolicyConfig(rules=(RuleConfig("pin", vms=("web*", "db", "ghost")),)))
    assert set(rules.pinned) == {"web1", "web2", "db"}
    assert rules.pinned["db"] == "pin rule #1"


def test_domains_default_to_the_host_and_the_policy_overrides() -> None:
    rules = Rules(SNAP, PolicyConfig(domains=(DomainConfig("r9", ("h2",)),)))
    assert rules.domain_of == {"h1": "r1", "h2": "r9", "h3": "h3"}


def test_anti_affinity_blocks_the_host_of_another_member() -> None:
    state = _state(RuleConfig("anti_affinity", name="web", vms=("web*",)))
    found = reasons(state.vms["web1"], HOSTS[1], state, ALL_RULES)
    assert "anti-affinity web: web2 already runs on h2" in found
    assert placement_allows(state.vms["web1"], HOSTS[2], state)


def test_affinity_spread_must_and_must_not() -> None:
    state = _state(RuleConfig("affinity", name="pair", vms=("web1", "db")),
                   RuleConfig("spread", name="sp", vms=("web1", "web2"), min_domains=2),
                   RuleConfig("must_not", name="no3", vms=("web2",), hosts=("h3",)),
                   RuleConfig("must", name="only1", vms=("db",), hosts=("h1",)))
    assert not placement_allows(state.vms["web1"], HOSTS[2], state)  # db stays on h1
    assert any("must not run on h3" in r for r in reasons(state.vms["web2"], HOSTS[2], state, ALL_RULES))
    assert any("must run on h1" in r for r in reasons(state.vms["db"], HOSTS[1], state, ALL_RULES))
    spread = reasons(state.vms["web2"], HOSTS[0], state, ALL_RULES)
    assert not any("spread" in r for r in spread)  # both in r1 already: 1 domain, not further below


def test_spread_blocks_leaving_the_last_other_domain() -> None:
    state = _state(RuleConfig("spread", name="sp", vms=("web1", "disk"), min_domains=2))
    assert any(r.startswith("spread sp") for r in reasons(state.vms["disk"], HOSTS[1], state, ALL_RULES))


def test_named_resources_must_fit() -> None:
    hosts = (*HOSTS[:2], host("h3", 10000, 8192, extra=(("disk_gib", 100),)),
             host("h4", 10000, 8192, extra=(("disk_gib", 40),)))
    state = ClusterState(snapshot(hosts, VMS), Forecast(300), PolicyConfig(headroom_pct=0), frozenset())
    assert "h4 lacks disk_gib: needs 50, 40 free" in reasons(state.vms["disk"], hosts[3], state, ALL_RULES)
    assert not placement_allows(state.vms["disk"], hosts[0], state)  # h1 has no disk_gib at all


def test_violations_and_soft_misses() -> None:
    rules = Rules(SNAP, PolicyConfig(rules=(RuleConfig("anti_affinity", name="a", vms=("web1", "db")),
                                            RuleConfig("should", name="s", vms=("db",), hosts=("h2",)))))
    location = {v.name: v.host for v in VMS}
    assert rules.violations(location) == ["anti-affinity a: members share a host"]
    assert rules.soft_misses("db", "h1") == 1 and rules.soft_misses("db", "h2") == 0
    state = _state(RuleConfig("should", name="s", vms=("db",), hosts=("h2",)))
    assert state.soft == 1 and state.soft_delta("db", "h2") > 0


def test_depends_blocks_arriving_where_no_dependency_runs() -> None:
    state = _state(RuleConfig("depends", name="web-db", vms=("web*",), on=("db",)))
    found = reasons(state.vms["web2"], HOSTS[2], state, ALL_RULES)  # h3 is its own domain, db is in r1
    assert "depends web-db: no VM web2 depends on (db) runs in failure domain h3 (a move to h3)" in found
    assert placement_allows(state.vms["web2"], HOSTS[0], state)  # within r1: always allowed


def test_depends_keeps_the_last_dependency_of_a_domain() -> None:
    state = _state(RuleConfig("depends", name="web-db", vms=("web*",), on=("db",)))
    found = reasons(state.vms["db"], HOSTS[2], state, ALL_RULES)
    assert any(r.startswith("depends web-db: db is the last VM web") for r in found)
    assert placement_allows(state.vms["db"], HOSTS[1], state)  # h2 is in r1 too


def test_depends_lets_a_second_dependency_leave_and_frees_a_domain_without_dependants() -> None:
    snap = snapshot(HOSTS, (*VMS, vm("db2", "h2", 500, 512)))
    rule = RuleConfig("depends", name="d", vms=("web1",), on=("db*",))
    state = ClusterState(snap, Forecast(300), PolicyConfig(rules=(rule,)), frozenset())
    assert placement_allows(state.vms["db"], HOSTS[2], state)  # db2 stays in r1 for web1
    alone = _state(RuleConfig("depends", name="d", vms=("disk",), on=("db",)))
    assert placement_allows(alone.vms["db"], HOSTS[2], alone)  # no dependant in r1: db may leave
    assert "web1" not in alone.rules.constrained  # only the rule's two sides need per-pair checks


def test_depends_violations_name_the_domains_without_a_dependency() -> None:
    rules = Rules(SNAP, PolicyConfig(rules=(RuleConfig("depends", name="d", vms=("disk", "web*"), on=("db",)),)))
    location = {v.name: v.host for v in VMS}
    assert rules.violations(location) == ["depends d: members run in h3 without a VM they depend on"]
    assert set(rules.constrained) == {"disk", "web1", "web2", "db"}


SOFT = (RuleConfig("soft_anti_affinity", name="apart", vms=("web*", "db"), weight=2.0),
        RuleConfig("soft_affinity", name="near", vms=("db", "disk")),
        RuleConfig("should", name="pref", vms=("web1",), hosts=("h3",), weight=0.5))


def test_soft_vm_vm_rules_count_weighted_pairs() -> None:
    rules = Rules(SNAP, PolicyConfig(rules=SOFT))
    where = {"web1": "h1", "web2": "h2", "db": "h1", "disk": "h3"}
    # apart: web1-db share h1 (1 pair x 2); near: db-disk apart (1 pair); pref: web1 off h3 (0.5)
    assert rules.soft_total(where) == 2.0 + 1.0 + 0.5
    assert rules.soft_change("db", "h3", where) == -2.0 - 1.0  # leaves web1, joins disk
    assert rules.soft_change("web1", "h2", where) == -2.0 + 2.0  # leaves db, joins web2
    assert rules.soft_fix("db", where) == 3.0
    assert rules.soft == {"web1", "web2", "db", "disk"} and rules.violations(where) == []


@given(st.lists(st.tuples(st.sampled_from(["web1", "web2", "db", "disk"]), st.sampled_from(["h1", "h2", "h3"])),
                max_size=12))
def test_soft_change_is_the_change_of_the_total_and_fix_bounds_it(moves: list[tuple[str, str]]) -> None:
    rules = Rules(SNAP, PolicyConfig(rules=SOFT))
    where = {v.name: v.host for v in VMS}
    for name, dest in moves:
        before = rules.soft_total(where)
        change = rules.soft_change(name, dest, where)
        assert change >= -rules.soft_fix(name, where)  # one VM's move repairs at most what it takes part in
        where[name] = dest
        assert abs(rules.soft_total(where) - (before + change)) < 1e-9
