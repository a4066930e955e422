"""What each host in maintenance held when its drain began, so progress counts from there.

The daemon updates a :class:`DrainBook` with every cycle's snapshot before that cycle's moves start; the
status file carries the figures (``drains[host].vms_at_start`` ...) and ``balancerctl drain --wait`` uses them
as its total. A restart takes the figures back from the previous status file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from balancerd.model import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class DrainStart:
    """A drain's starting point: when the daemon first saw the host in maintenance, with what on it."""

    at: float
    vms: int
    mem_mib: int


class DrainBook:
    """Drain starts per host; forgets a host once it leaves maintenance."""

    def __init__(self, previous: Mapping[str, DrainStart] | None = None) -> None:
        self._starts = dict(previous or {})

    def update(self, snapshot: ClusterSnapshot, maintenance: frozenset[str]) -> None:
        """Record hosts newly in maintenance (before any move of this cycle), forget those out of it."""
        self._starts = {h: s for h, s in self._starts.items() if h in maintenance}
        reachable = {h.name for h in snapshot.hosts if h.reachable}
        for host in sorted((maintenance & reachable) - self._starts.keys()):  # an unreachable host shows no VMs
            on_host = snapshot.vms_on(host)
            self._starts[host] = DrainStart(snapshot.taken_at, len(on_host), sum(v.size.mem_mib for v in on_host))

    def start(self, host: str) -> DrainStart | None:
        return self._starts.get(host)


def from_status(document: Mapping[str, Any]) -> dict[str, DrainStart]:
    """The drain starts a previous daemon wrote in its status file (missing or malformed entries ignored)."""
    starts: dict[str, DrainStart] = {}
    for host, drain in (document.get("drains") or {}).items():
        try:
            starts[host] = DrainStart(float(drain["started_at"]), int(drain["vms_at_start"]),
                                      int(drain["mem_mib_at_start"]))
        except (KeyError, TypeError, ValueError):
            continue
    return starts
