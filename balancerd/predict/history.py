"""Bounded per-VM history of observed usage (ring buffers).

The predictor feeds every snapshot into :class:`History`; forecasters read the recent values back. Memory
is bounded: ``capacity`` samples per VM, and VMs not seen for ``capacity`` observations are forgotten. A VM
keeps its history when it migrates, because it is keyed by name, not by host.
"""

from __future__ import annotations

from collections import deque

from balancerd.model import ClusterSnapshot, Resources


class History:
    """Recent usage samples per VM."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._series: dict[str, deque[Resources]] = {}
        self._last_seen: dict[str, int] = {}
        self._observations = 0

    def observe(self, snapshot: ClusterSnapshot) -> None:
        """Append the usage of every running VM of ``snapshot``."""
        self._observations += 1
        for vm in snapshot.vms:
            if not vm.running:
                continue
            series = self._series.setdefault(vm.name, deque(maxlen=self._capacity))
            series.append(vm.usage)
            self._last_seen[vm.name] = self._observations
        self._forget_stale()

    def series(self, vm: str) -> tuple[Resources, ...]:
        return tuple(self._series.get(vm, ()))

    def vms(self) -> tuple[str, ...]:
        return tuple(self._series)

    def _forget_stale(self) -> None:
        horizon = self._observations - self._capacity
        for name in [n for n, seen in self._last_seen.items() if seen < horizon]:
            del self._series[name]
            del self._last_seen[name]
