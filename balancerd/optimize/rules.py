"""Placement rules compiled against one snapshot: who is pinned, excluded, grouped, and where VMs may run.

Built once per :class:`~balancerd.optimize.state.ClusterState` from ``policy.rules`` and
``policy.domains`` (names or shell patterns, matched with :mod:`fnmatch`) and the hosts' own ``domain``.
:mod:`balancerd.optimize.constraints` asks it questions per (VM, host); the strategies use
``constrained`` to know which VMs need those per-pair checks (every other VM only needs capacity checks,
which the vectorised core does in bulk). Soft rules are not checks but a penalty, which :mod:`state` keeps
in the score: ``policy.soft_rule_weight`` times the rule's ``weight`` per miss. A miss of should /
should_not is a VM outside its preferred hosts; of soft_affinity a pair of members on different hosts, of
soft_anti_affinity a pair sharing a host (pairs, so that one VM's move changes the count by how many of the
others it leaves or joins).
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from balancerd.config import PolicyConfig, RuleConfig
from balancerd.model import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of VMs under one group rule (anti-affinity, affinity, spread, depends).

    For ``depends``, ``members`` are the dependants and ``needs`` the VMs they depend on: every failure domain
    running a member also runs one of ``needs``.
    """

    kind: str
    name: str
    members: tuple[str, ...]
    min_domains: int = 1
    needs: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class HostRule:
    """A VM-host rule: ``kind`` is must, must_not, should or should_not (``weight``: soft kinds only)."""

    kind: str
    name: str
    hosts: frozenset[str]
    weight: float = 1.0


SOFT_GROUP_KINDS = ("soft_affinity", "soft_anti_affinity")
"""VM-VM rules that are preferences: members should share a host / should run apart."""


def _expand(patterns: Iterable[str], names: list[str], known: set[str]) -> tuple[str, ...]:
    """Names matching any of ``patterns`` (plain names are looked up, patterns matched), in order."""
    found: dict[str, None] = {}
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            found.update({pattern: None} if pattern in known else {})
            continue
        found.update(dict.fromkeys(fnmatch.filter(names, pattern)))
    return tuple(found)


def _label(rule: RuleConfig, index: int) -> str:
    return rule.name or f"{rule.kind} rule #{index + 1}"


class Rules:
    """The rules of one plan, indexed by VM."""

    def __init__(self, snapshot: ClusterSnapshot, policy: PolicyConfig) -> None:
        vm_names = [vm.name for vm in snapshot.vms]
        host_names = [h.name for h in snapshot.hosts]
        vms, hosts = set(vm_names), set(host_names)
        self.excluded: dict[str, str] = {}
        self.pinned: dict[str, str] = {}
        self.host_rules: dict[str, list[HostRule]] = {}
        self.groups: dict[str, list[Group]] = {}
        self.all_groups: list[Group] = []
        self.soft_groups: dict[str, list[Group]] = {}
        self.soft_group_list: list[Group] = []
        self.domain_of = self._domains(snapshot, policy, host_names, hosts)
        for index, rule in enumerate(policy.rules):
            members, needs = _expand(rule.vms, vm_names, vms), _expand(rule.on, vm_names, vms)
            self._add(rule, _label(rule, index), members, frozenset(_expand(rule.hosts, host_names, hosts)), needs)
        prefer = (vm for vm, rules in self.host_rules.items() if any(r.kind.startswith("should") for r in rules))
        self.soft = frozenset(prefer) | frozenset(self.soft_groups)
        """VMs with a soft rule (VM-host or VM-VM): their moves change the soft-rule penalty."""
        self.constrained = frozenset(self.host_rules) | frozenset(self.groups) | frozenset(self.soft_groups)
        """VMs whose destinations need per-pair rule checks (excluded and pinned VMs never move)."""

    @staticmethod
    def _domains(snapshot: ClusterSnapshot, policy: PolicyConfig, names: list[str], known: set[str]) -> dict[str, str]:
        domain = {h.name: h.domain or h.name for h in snapshot.hosts}
        for entry in policy.domains:
            domain.update(dict.fromkeys(_expand(entry.hosts, names, known), entry.name))
        return domain

    def _add(self, rule: RuleConfig, label: str, members: tuple[str, ...], hosts: frozenset[str],
             needs: tuple[str, ...]) -> None:
        if rule.kind == "exclude":
            self.excluded.update(dict.fromkeys(members, label))
        elif rule.kind == "pin":
            self.pinned.update(dict.fromkeys(members, label))
        elif rule.kind in ("must", "must_not", "should", "should_not"):
            for vm in members:
                self.host_rules.setdefault(vm, []).append(HostRule(rule.kind, label, hosts, rule.weight))
        elif rule.kind in SOFT_GROUP_KINDS:
            soft = Group(rule.kind, label, members, weight=rule.weight)
            self.soft_group_list.append(soft)
            for vm in members:
                self.soft_groups.setdefault(vm, []).append(soft)
        else:
            group = Group(rule.kind, label, members, rule.min_domains, needs)
            self.all_groups.append(group)
            for vm in dict.fromkeys(members + needs):  # both sides of a dependency are constrained
                self.groups.setdefault(vm, []).append(group)

    def soft_misses(self, vm: str, host: str) -> float:
        """The weighted soft VM-host rules ``vm`` breaks when it runs on ``host``."""
        rules = self.host_rules.get(vm, ())
        return sum(rule.weight for rule in rules if (rule.kind == "should" and host not in rule.hosts)
                   or (rule.kind == "should_not" and host in rule.hosts))

    def soft_total(self, location: Mapping[str, str]) -> float:
        """Every weighted soft miss of the placement ``location``: VM-host rules and VM-VM pairs."""
        hosts = math.fsum(self.soft_misses(vm, location[vm]) for vm in self.host_rules if vm in location)
        return hosts + math.fsum(g.weight * _pairs_missed(g, location) for g in self.soft_group_list)

    def soft_change(self, vm: str, dest: str, location: Mapping[str, str]) -> float:
        """How the weighted soft misses change if ``vm`` moved from where ``location`` has it to ``dest``."""
        here = location[vm]
        change = self.soft_misses(vm, dest) - self.soft_misses(vm, here)
        for group in self.soft_groups.get(vm, ()):
            at_here, at_dest = _others_on(group, vm, location, here), _others_on(group, vm, location, dest)
            pairs = at_dest - at_here if group.kind == "soft_anti_affinity" else at_here - at_dest
            change += group.weight * pairs if here != dest else 0.0
        return change

    def soft_fix(self, vm: str, location: Mapping[str, str]) -> float:
        """The weighted soft misses ``vm`` takes part in: the most that moving it alone can repair."""
        here = location[vm]
        fix = self.soft_misses(vm, here)
        for group in self.soft_groups.get(vm, ()):
            together = _others_on(group, vm, location, here)
            fix += group.weight * (together if group.kind == "soft_anti_affinity"
                                   else len(group.members) - 1 - together)
        return fix

    def violations(self, location: dict[str, str]) -> list[str]:
        """Every hard rule the placement ``location`` (VM -> host) breaks, in words."""
        found: list[str] = []
        for vm, rules in self.host_rules.items():
            where = location.get(vm)
            for rule in rules:
                if where is not None and _host_rule_broken(rule, where):
                    found.append(f"{rule.name}: {vm} runs on {where}")
        for group in self.all_groups:
            found.extend(group_violation(group, location, self.domain_of))
        return found


def _host_rule_broken(rule: HostRule, host: str) -> bool:
    if rule.kind == "must":
        return host not in rule.hosts
    if rule.kind == "must_not":
        return host in rule.hosts
    return False


def group_violation(group: Group, location: dict[str, str], domain_of: dict[str, str]) -> list[str]:
    """How ``group`` is broken under ``location``, in words (empty when it holds)."""
    hosts = [location[vm] for vm in group.members if vm in location]
    if group.kind == "anti_affinity" and len(set(hosts)) < len(hosts):
        return [f"anti-affinity {group.name}: members share a host"]
    if group.kind == "affinity" and len(set(hosts)) > 1:
        return [f"affinity {group.name}: members run on {len(set(hosts))} hosts"]
    if group.kind == "spread":
        domains = {domain_of.get(h, h) for h in hosts}
        if len(domains) < min(group.min_domains, len(hosts)):
            return [f"spread {group.name}: members span {len(domains)} failure domains, "
                    f"{min(group.min_domains, len(hosts))} required"]
    if group.kind == "depends":
        missing = sorted(_domains(group.members, location, domain_of) - _domains(group.needs, location, domain_of))
        if missing:
            return [f"depends {group.name}: members run in {', '.join(missing)} without a VM they depend on"]
    return []


def _domains(vms: tuple[str, ...], location: dict[str, str], domain_of: dict[str, str]) -> set[str]:
    return {domain_of.get(location[vm], location[vm]) for vm in vms if vm in location}


def _others_on(group: Group, vm: str, location: Mapping[str, str], host: str) -> int:
    """How many members of ``group`` other than ``vm`` run on ``host``."""
    return sum(1 for member in group.members if member != vm and location.get(member) == host)


def _pairs_missed(group: Group, location: Mapping[str, str]) -> int:
    """Pairs of a soft group's members that break it: apart (soft_affinity) or together (soft_anti_affinity)."""
    counts = Counter(location[m] for m in group.members if m in location)
    together = sum(c * (c - 1) // 2 for c in counts.values())
    placed = sum(counts.values())
    return together if group.kind == "soft_anti_affinity" else placed * (placed - 1) // 2 - together
