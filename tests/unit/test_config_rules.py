"""Unit tests for the placement-rule part of balancerd.config ([[policy.rules]], [[policy.domains]])."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd import config
from balancerd.errors import ConfigError
from tests.builders import policy as policy_of


def test_rules_and_domains_are_read() -> None:
    policy = policy_of({"strategy": "consolidate",
                      "rules": [{"kind": "must", "name": "lic", "vms": ["db-*"], "hosts": ["h1", "h2"]}],
                      "domains": [{"name": "rack1", "hosts": ["h1"]}]})
    assert policy.strategy == "consolidate"
    assert policy.rules == (config.RuleConfig("must", "lic", ("db-*",), ("h1", "h2")),)
    assert policy.domains == (config.DomainConfig("rack1", ("h1",)),)


def test_depends_rule_reads_what_it_depends_on() -> None:
    policy = policy_of({"rules": [{"kind": "depends", "name": "app-db", "vms": ["app-*"], "on": ["db-*", "cache"]}]})
    assert policy.rules == (config.RuleConfig("depends", "app-db", ("app-*",), on=("db-*", "cache")),)


def test_soft_vm_vm_rules_read_their_weight() -> None:
    policy = policy_of({"rules": [{"kind": "soft_anti_affinity", "name": "apart", "vms": ["web-*"], "weight": 3},
                                  {"kind": "soft_affinity", "vms": ["app", "cache"]}]})
    assert policy.rules == (config.RuleConfig("soft_anti_affinity", "apart", ("web-*",), weight=3.0),
                            config.RuleConfig("soft_affinity", vms=("app", "cache")))


@pytest.mark.parametrize(("table", "key"), [
    ({"rules": [{"kind": "anti_affinity"}]}, "policy.rules[0].vms"),
    ({"rules": [{"kind": "must", "vms": ["a"]}]}, "policy.rules[0].hosts"),
    ({"rules": [{"kind": "nope", "vms": ["a"]}]}, "policy.rules[0].kind"),
    ({"rules": [{"kind": "depends", "vms": ["app-*"]}]}, "policy.rules[0].on"),
    ({"rules": [{"kind": "spread", "vms": ["a"], "on": ["b"]}]}, "policy.rules[0].on"),
    ({"rules": [{"vms": "a"}]}, "policy.rules[0].vms"),
    ({"domains": [{"hosts": ["h1"]}]}, "policy.domains[0].name"),
    ({"strategy": "pack"}, "policy.strategy"),
    ({"rules": [{"kind": "anti_affinity", "vms": ["a", "b"], "weight": 3}]}, "policy.rules[0].weight"),
    ({"rules": [{"kind": "soft_affinity", "vms": ["a", "b"], "weight": -1}]}, "policy.rules[0].weight"),
])
def test_bad_rules_name_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy_of(table)
    assert key in str(info.value)


def test_documented_defaults_load() -> None:
    root = Path(__file__).resolve().parents[2]
    assert config.load(root / "config" / "balancerd.toml").policy.rules == ()
