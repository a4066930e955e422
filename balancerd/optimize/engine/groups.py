"""The cluster's group rules as the engine's services: which VMs improvement may move, and under what rule.

Called by :mod:`balancerd.optimize.engine.fromstate`. A group rule is carried when the model states it exactly
and each of its VMs is under that rule alone (no other group, no soft VM-VM rule):

- anti-affinity: one service whose processes run on distinct hosts;
- spread: one service (its processes may share hosts) that spans at least ``min_domains`` failure domains (the
  model's locations), or, where construction's placement spans fewer, no fewer than that;
- depends: the dependants one service, the VMs they depend on another, the first depending on the second
  within failure domains (the model's neighbourhoods), as :func:`constraints.dependency` checks per move.

Every other VM is a service of its own. A VM in a group the model does not carry (affinity, a group with a VM
under a second group rule, a dependency without VMs to depend on or with a VM on both sides) or in a soft VM-VM
rule is frozen where construction put it, as is every VM not in ``movable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from balancerd.optimize.engine.model import BoolArray, IntArray
from balancerd.optimize.rules import Group
from balancerd.optimize.state import ClusterState

_CARRIED = ("anti_affinity", "spread", "depends")


@dataclass(frozen=True)
class Services:
    """Each VM's service and whether it is frozen; per service: distinct hosts, spread, dependencies."""

    of: IntArray  # [P] service of each VM
    frozen: BoolArray  # [P]
    distinct: BoolArray  # [S]
    spread_min: IntArray  # [S]
    dependencies: tuple[tuple[int, ...], ...]  # [S]


@dataclass
class _Builder:
    ids: dict[tuple[str, int | str], int] = field(default_factory=dict)
    distinct: list[bool] = field(default_factory=list)
    spread: list[int] = field(default_factory=list)
    deps: list[list[int]] = field(default_factory=list)

    def service(self, key: tuple[str, int | str], distinct: bool = True, spread: int = 0) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.distinct)
            self.distinct.append(distinct)
            self.spread.append(spread)
            self.deps.append([])
        return self.ids[key]


def services(state: ClusterState, end: ClusterState, vms: tuple[str, ...], movable: set[str]) -> Services:
    """The services of ``vms`` in ``state`` (the snapshot's), spread measured where ``end`` (construction) put
    them."""
    carried = {id(g): i for i, g in enumerate(state.rules.all_groups) if _carried(state, g)}
    build = _Builder()
    of = np.zeros(len(vms), dtype=np.int64)
    frozen = np.zeros(len(vms), dtype=bool)
    for p, name in enumerate(vms):
        groups = state.rules.groups.get(name, [])
        if groups and id(groups[0]) in carried:
            of[p] = _group_service(build, groups[0], carried[id(groups[0])], name, end)
        else:
            of[p] = build.service(("vm", name))
        alone = not groups and name not in state.rules.soft_groups
        frozen[p] = name not in movable or not (alone or (groups and id(groups[0]) in carried))
    return Services(of, frozen, np.array(build.distinct, dtype=bool), np.array(build.spread, dtype=np.int64),
                    tuple(tuple(d) for d in build.deps))


def _carried(state: ClusterState, group: Group) -> bool:
    """Whether the model states the group exactly: a kind it carries, every VM under this rule alone."""
    rules = state.rules
    vms = set(group.members) | set(group.needs)
    if group.kind not in _CARRIED or any(rules.groups.get(vm, []) != [group] or vm in rules.soft_groups
                                         for vm in vms):
        return False
    return group.kind != "depends" or (bool(group.needs) and not set(group.members) & set(group.needs))


def _group_service(build: _Builder, group: Group, index: int, vm: str, end: ClusterState) -> int:
    if group.kind == "anti_affinity":
        return build.service(("group", index))
    if group.kind == "spread":
        return build.service(("group", index), distinct=False, spread=min(group.min_domains, _span(group, end)))
    needs = build.service(("needs", index), distinct=False)
    members = build.service(("members", index), distinct=False)
    if needs not in build.deps[members]:
        build.deps[members].append(needs)
    return needs if vm in group.needs else members


def _span(group: Group, end: ClusterState) -> int:
    """Failure domains the group's VMs run in, in ``end``."""
    domain_of = end.rules.domain_of
    return len({domain_of.get(end.location[vm], end.location[vm]) for vm in group.members if vm in end.location})
