"""The failure memory in planning: which VMs are held because every candidate host has failed them.

Called by :func:`balancerd.optimize.optimizer.plan` for ``Plan.held``. The pairs themselves are refused by
:func:`balancerd.optimize.constraints.not_failed_here` (back-off, then blocked at ``policy.max_failures``);
a VM is held when no candidate is left: every eligible host other than its own that the VM's other rules
allow (capacity aside: room comes and goes) has failed it ``max_failures`` times. ``balancerctl release VM``
clears its records, and with them the hold.
"""

from __future__ import annotations

from balancerd.model import Skip
from balancerd.optimize.constraints import HOST_RULES, PLACEMENT_RULES, not_failed_here, reasons
from balancerd.optimize.state import ClusterState

_OTHER_RULES = tuple(rule for rule in HOST_RULES + PLACEMENT_RULES if rule is not not_failed_here)


def held(state: ClusterState) -> tuple[Skip, ...]:
    """The VMs the failure memory holds, each with the failure of every candidate host."""
    worn = sorted({vm for vm, dest in state.failures if _worn(state, vm, dest)})
    found = (_held(state, vm) for vm in worn if vm in state.vms)
    return tuple(skip for skip in found if skip is not None)


def _held(state: ClusterState, name: str) -> Skip | None:
    vm = state.vms[name]
    candidates = [h for h in state.eligible_hosts() if not reasons(vm, h.host, state, _OTHER_RULES)]
    if not all(_worn(state, name, h.name) for h in candidates):
        return None
    lines = tuple(reason for h in candidates if (reason := not_failed_here(vm, h.host, state)) is not None)
    return Skip(name, lines or (f"no candidate host is left; it stays on {state.location[name]}",))


def _worn(state: ClusterState, vm: str, host: str) -> bool:
    """Whether the pair has failed ``max_failures`` times."""
    record = state.failures.get((vm, host))
    return record is not None and record.count >= state.policy.max_failures
