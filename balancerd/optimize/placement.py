"""Initial placement: the best host for a VM that runs nowhere yet, with the reasons for every other host.

Called by ``balancerd import`` (:mod:`balancerd.importing.target`, ``--host auto`` and the check of a named
host) on the daemon's kind of snapshot and forecast; the one function for any new VM's placement. The VM is
weighed as the balance strategy weighs a move: every host rule, placement rule, pre-flight fact, the failure
memory and the fit within usable capacity (the policy's headroom) must allow it, and among the hosts that do,
the one whose score (balance and overload, soft rules) improves most wins; ties go to the name. Pure
(ARCHITECTURE.md rule 1).
"""

from __future__ import annotations

import dataclasses

from balancerd.config import PolicyConfig
from balancerd.model import Candidate, ClusterSnapshot, FailureRecord, Forecast, Host, Placement, Vm
from balancerd.optimize.constraints import FIT_RULES, HOST_RULES, PLACEMENT_RULES, not_same_host, reasons
from balancerd.optimize.state import ClusterState

NOWHERE = "(not placed)"
"""The host a new VM is on while it is weighed: in maintenance, so that it counts in no score."""

_RULES = tuple(rule for rule in HOST_RULES if rule is not not_same_host) + PLACEMENT_RULES + FIT_RULES


def place(snapshot: ClusterSnapshot, forecast: Forecast, policy: PolicyConfig, vm: Vm, *,
          hosts: tuple[str, ...] = (), failures: tuple[FailureRecord, ...] = ()) -> Placement:
    """Where ``vm`` (its ``host`` is ignored; its ``usage`` is the demand planned for) should start; only among
    ``hosts`` when given (``--host NAME``), else among every host of ``snapshot``."""
    state = ClusterState(_with_newcomer(snapshot, vm), forecast, policy, frozenset(), failures=failures)
    weighed = [_weigh(state, vm.name, state.hosts[name].host) for name in _hosts(snapshot, hosts)]
    ranked = sorted(weighed, key=lambda c: (c.gain is None, -(c.gain or 0.0), c.host))
    best = ranked[0] if ranked and ranked[0].gain is not None else None
    if best is None:
        return Placement(vm.name, None, _nowhere(vm, ranked), tuple(ranked))
    load = state.hosts[best.host]
    reason = f"{best.host} at {load.percent()} has room within the policy's headroom and the best score after"
    return Placement(vm.name, best.host, reason, tuple(ranked))


def _with_newcomer(snapshot: ClusterSnapshot, vm: Vm) -> ClusterSnapshot:
    nowhere = Host(NOWHERE, vm.size.max_with(vm.usage), maintenance=True)
    newcomer = dataclasses.replace(vm, host=NOWHERE)
    return dataclasses.replace(snapshot, hosts=(*snapshot.hosts, nowhere), vms=(*snapshot.vms, newcomer))


def _hosts(snapshot: ClusterSnapshot, only: tuple[str, ...]) -> list[str]:
    names = [h.name for h in snapshot.hosts]
    return [n for n in names if n in only] if only else names


def _weigh(state: ClusterState, vm: str, host: Host) -> Candidate:
    why = reasons(state.vms[vm], host, state, _RULES)
    if why:
        return Candidate(host.name, None, why)
    return Candidate(host.name, state.move_delta(vm, host.name)[0])


def _nowhere(vm: Vm, ranked: list[Candidate]) -> str:
    if not ranked:
        return f"no host to weigh for {vm.name}"
    first = "; ".join(f"{c.host}: {c.reasons[0]}" for c in ranked[:3] if c.reasons)
    return f"no host may take {vm.name} ({first}{'; ...' if len(ranked) > 3 else ''})"
