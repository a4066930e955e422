"""The repair strategy: placement rules the current placement already breaks are fixed before balancing.

Called by :func:`balancerd.optimize.optimizer.plan` after the drains, before the balance / consolidate
strategy (DRS fixes must-rule violations before it balances; so does balancerd); the planner puts repairs first
in the plan. Repaired, in this order:

* a VM on a host its ``must`` / ``must_not`` rules forbid moves to the best host they allow;
* members of a hard anti-affinity group that share a host: all but the first (by name) move to hosts with no
  other member;
* members of an affinity group that run apart gather on the host that already holds most of them (then the
  one with the most room), if all of the others fit there.

A repair ignores the cooldown (like a drain) but never moves a pinned, excluded or in-flight VM, nor one that
already moves in this plan. When the VM fits nowhere the rules allow, residents of an allowed host make room
first (:mod:`balancerd.optimize.room`). What cannot be repaired is a Skip naming the rule and every host's
reason, and stays in ``Plan.violations``. Spread and dependency rules are not repaired (they only guard moves).
"""

from __future__ import annotations

from balancerd.model import Move, Resources, Skip
from balancerd.optimize import room
from balancerd.optimize.constraints import DRAIN_VM_RULES, PLACEMENT_RULES, reasons
from balancerd.optimize.drain import no_room_reasons
from balancerd.optimize.rules import Group
from balancerd.optimize.state import ClusterState
from balancerd.optimize.steps import best_dest, make_move


def repair(state: ClusterState, budget: int) -> tuple[list[Move], list[Skip]]:
    """Moves that fix broken hard rules (applied to ``state``), at most ``budget``, and Skips for the rest."""
    moves: list[Move] = []
    skips: list[Skip] = []
    for vm, why in _broken(state):
        if len(moves) >= budget:
            skips.append(Skip(vm, (f"deferred: {why}; the move budget of this cycle is used up",)))
            continue
        more, skip = _relocate(state, vm, why, budget - len(moves))
        moves.extend(more)
        skips.extend([skip] if skip else [])
    moves.extend(_gather_all(state, budget - len(moves), skips))
    return moves, skips


def _broken(state: ClusterState) -> list[tuple[str, str]]:
    """(VM, rule in words) for VMs on a host their host rules forbid, then anti-affinity clashes."""
    found: list[tuple[str, str]] = []
    for vm in sorted(state.rules.host_rules):
        if vm in state.location and _eligible_source(state, vm):
            why = _host_rule_broken(state, vm)
            found.extend([(vm, why)] if why else [])
    for group in state.rules.all_groups:
        if group.kind == "anti_affinity":
            found.extend((vm, f"repair anti-affinity {group.name}: {vm} shares {state.location[vm]} with "
                              f"another member") for vm in _clashing(state, group))
    return found


def _eligible_source(state: ClusterState, vm: str) -> bool:
    """Repairs start from eligible hosts only (a host in maintenance is the drain's business)."""
    return state.hosts[state.location[vm]].eligible


def _host_rule_broken(state: ClusterState, vm: str) -> str | None:
    where = state.location[vm]
    for rule in state.rules.host_rules.get(vm, ()):
        if rule.kind == "must" and where not in rule.hosts:
            return f"repair {rule.name}: {vm} must run on {', '.join(sorted(rule.hosts))}, runs on {where}"
        if rule.kind == "must_not" and where in rule.hosts:
            return f"repair {rule.name}: {vm} must not run on {where}"
    return None


def _clashing(state: ClusterState, group: Group) -> list[str]:
    """Members that share a host with an earlier member (by name): the ones to move."""
    seen: set[str] = set()
    clash: list[str] = []
    for vm in sorted(m for m in group.members if m in state.location):
        host = state.location[vm]
        if host in seen and _eligible_source(state, vm):
            clash.append(vm)
        seen.add(host)
    return clash


def _relocate(state: ClusterState, vm: str, why: str, budget: int) -> tuple[list[Move], Skip | None]:
    blocked = reasons(state.vms[vm], state.hosts[state.location[vm]].host, state, DRAIN_VM_RULES)
    if blocked:
        return [], Skip(vm, (f"{why}; cannot move it", *blocked))
    found = best_dest(state, vm, state.eligible_hosts())
    if found is not None:
        dest, gain = found
        move = make_move(state, vm, dest.name, f"{why}; to {dest.name} at {dest.percent()}", gain)
        state.apply(vm, dest.name)
        return [move], None
    made = room.cascade(state, vm, state.eligible_hosts(), budget, why)
    if made:
        return made, None
    steps = room.first_steps(state, vm, state.eligible_hosts(), budget, why)
    if steps:
        return steps, Skip(vm, (f"deferred: {why}; room is being made on {steps[0].source}, the move budget of "
                                "this cycle is used up",))
    return [], Skip(vm, (f"{why}; no host takes it", *no_room_reasons(state, state.vms[vm])))


def _gather_all(state: ClusterState, budget: int, skips: list[Skip]) -> list[Move]:
    moves: list[Move] = []
    for group in state.rules.all_groups:
        if group.kind == "affinity":
            more, skip = _gather(state, group, budget - len(moves))
            moves.extend(more)
            skips.extend([skip] if skip else [])
    return moves


def _gather(state: ClusterState, group: Group, budget: int) -> tuple[list[Move], Skip | None]:
    """Bring the members of a broken affinity group to the host holding most of them, if they all fit."""
    members = [m for m in group.members if m in state.location]
    hosts = {state.location[m] for m in members}
    if len(hosts) <= 1:
        return [], None
    target = max(hosts, key=lambda h: (sum(state.location[m] == h for m in members), -state.hosts[h].util, h))
    strays = [m for m in members if state.location[m] != target]
    why = f"repair affinity {group.name}: members run on {len(hosts)} hosts; gather on {target}"
    problem = _gather_problem(state, strays, target, budget)
    if problem is not None:
        return [], Skip(strays[0], (f"{why}: {problem}",))
    moves = []
    for vm in strays:
        gain = state.move_delta(vm, target)[0]
        moves.append(make_move(state, vm, target, why, gain))
        state.apply(vm, target)
    return moves, None


def _gather_problem(state: ClusterState, strays: list[str], target: str, budget: int) -> str | None:
    """Why the strays cannot all move to ``target`` (None when they can): budget, VM rules, other rules, room."""
    load = state.hosts[target]
    if not load.eligible:
        return f"{target} is not eligible (maintenance or unreachable)"
    if len(strays) > budget:
        return f"{len(strays)} moves needed, {budget} left in this cycle's budget"
    others = tuple(rule for rule in PLACEMENT_RULES if rule.__name__ != "affinity")
    for vm in strays:
        if not _eligible_source(state, vm):
            return f"{vm} runs on {state.location[vm]}, in maintenance or unreachable"
        blocked = reasons(state.vms[vm], load.host, state, DRAIN_VM_RULES + others)
        if blocked:
            return f"{vm}: {blocked[0]}"
    need = Resources.total(state.demand[vm].cap for vm in strays)
    named = state.extra_load.get(target, {})
    if not load.fits(need) or any(amount > load.usable.amount(name) - named.get(name, 0)
                                  for name, amount in need.extra):
        return f"{target} has no room for all of them within {100 - state.policy.headroom_pct}% of capacity"
    return None
