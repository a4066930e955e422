"""What the service lets one plan start beyond the policy: blackout windows, the per-VM daily cap, the back-off
after external moves (issue 21 item 2).

The service reads the clock and the journal (:mod:`balancerd.service.limits`) and hands :func:`balancerd.optimize.plan`
a :class:`Limits` value, so the planner stays pure: it drops the stages whose purpose is not allowed (each with
the service's note), and balancing passes over the capped VMs (:func:`balancerd.optimize.constraints.under_daily_cap`).
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.model import Purpose

EVERY_PURPOSE = frozenset(Purpose)


@dataclass(frozen=True, slots=True)
class Limits:
    """``allowed``: the purposes whose moves may start now (all, outside blackout windows and back-offs);
    ``held``: why the others wait, one note each (e.g. "blackout window Mon-Fri 08:00-18:00 Europe/Berlin: only
    drains start"); ``capped``: VMs that balancing may not move now, with the moves they made in the last 24 hours
    (``[policy] max_moves_per_vm_per_day`` reached); ``recent``: every VM moved in the last 24 hours with its
    moves, when a cap is set (consolidation keeps the VMs that have spent their moves together)."""

    allowed: frozenset[Purpose] = EVERY_PURPOSE
    held: tuple[str, ...] = ()
    capped: tuple[tuple[str, int], ...] = ()
    recent: tuple[tuple[str, int], ...] = ()

    def allows(self, purpose: Purpose) -> bool:
        return purpose in self.allowed

    def waiting(self, purpose: Purpose) -> str:
        """Why moves of ``purpose`` wait ("" when they may start)."""
        return "" if self.allows(purpose) else "; ".join(self.held) or f"{purpose.value} moves are held"
