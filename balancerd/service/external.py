"""External moves: VMs that changed host between two collections without a balancerd move (issue 21 item 2).

:class:`balancerd.service.limits.MoveLimits` calls :func:`detect` on every daemon cycle with the placement the
previous collection saw and the VMs balancerd itself moved or is moving since then; it records what it finds
in the journal (the cooldown then holds those VMs where they were put) and asks :func:`backoff_until` whether
so many came within an hour that balancing should back off instead of fighting whoever moves them. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from balancerd.model import ClusterSnapshot, ExternalMove

WINDOW_S = 3600.0
"""External moves are counted over the trailing hour (``[policy] external_moves_backoff``)."""


def placement(snapshot: ClusterSnapshot) -> dict[str, str]:
    """Where each VM of ``snapshot`` is (the baseline for the next :func:`detect`)."""
    return {vm.name: vm.host for vm in snapshot.vms}


def detect(before: Mapping[str, str], snapshot: ClusterSnapshot, ours: Collection[str]) -> tuple[ExternalMove, ...]:
    """VMs of ``snapshot`` on another host than ``before`` had them that are not in ``ours`` (moved or moving by
    balancerd since); a VM new to the cluster or gone from it is no move."""
    found = []
    for vm in snapshot.vms:
        was = before.get(vm.name)
        if was is not None and was != vm.host and vm.name not in ours:
            found.append(ExternalMove(vm.name, was, vm.host, snapshot.taken_at))
    return tuple(found)


def backoff_until(seen: Sequence[float], limit: int, backoff_s: float) -> float | None:
    """The end of the back-off the external moves seen at ``seen`` (seconds, any order) call for: ``backoff_s``
    after the last moment at which more than ``limit`` of them lay within one hour; None when that never
    happened or ``limit`` is 0 (never back off)."""
    if limit <= 0:
        return None
    times = sorted(seen)
    start = 0
    until: float | None = None
    for end, at in enumerate(times):
        while times[start] <= at - WINDOW_S:
            start += 1
        if end - start + 1 > limit:
            until = at + backoff_s
    return until
