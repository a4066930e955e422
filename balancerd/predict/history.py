"""Bounded per-VM history of observed usage: one ring buffer shared by all VMs.

The predictor feeds every snapshot into :class:`History`; forecasters and training read windows back as
arrays. Memory is bounded: ``capacity`` samples per VM (a row of a matrix whose columns are the last
``capacity`` observations; NaN where the VM was not seen), and VMs not seen for ``capacity`` observations
are forgotten. A VM keeps its history when it migrates, because it is keyed by name, not by host.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancerd.model import ClusterSnapshot, Resources

Matrix = npt.NDArray[np.float64]
_INITIAL_ROWS = 64


@dataclass(frozen=True, slots=True)
class Window:
    """A copy of the last ``width`` observations, oldest first: usage and size per VM row, time per column."""

    names: tuple[str, ...]
    cpu: Matrix
    mem: Matrix
    times: npt.NDArray[np.float64]
    size_cpu: npt.NDArray[np.float64]
    size_mem: npt.NDArray[np.float64]

    def counts(self) -> npt.NDArray[np.int64]:
        """Observed samples per VM in the window."""
        return np.asarray((~np.isnan(self.cpu)).sum(axis=1), dtype=np.int64)


class History:
    """Recent usage samples per VM."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._observations = 0
        self._rows: dict[str, int] = {}
        self._free: list[int] = []
        self._times = np.full(capacity, np.nan)
        self._allocate(_INITIAL_ROWS)

    @property
    def observations(self) -> int:
        """How many snapshots were observed so far."""
        return self._observations

    @property
    def capacity(self) -> int:
        return self._capacity

    def _allocate(self, rows: int) -> None:
        self._cpu = np.full((rows, self._capacity), np.nan, dtype=np.float32)
        self._mem = np.full((rows, self._capacity), np.nan, dtype=np.float32)
        self._size = np.zeros((rows, 2))
        self._seen = np.full(rows, -1, dtype=np.int64)
        self._names: list[str | None] = [None] * rows
        self._free = list(range(rows - 1, -1, -1))

    def observe(self, snapshot: ClusterSnapshot) -> None:
        """Append the usage of every running VM of ``snapshot``."""
        column = self._observations % self._capacity
        self._observations += 1
        self._cpu[:, column] = np.nan
        self._mem[:, column] = np.nan
        self._times[column] = snapshot.taken_at
        running = [vm for vm in snapshot.vms if vm.running]
        rows = np.array([self._row_of(vm.name) for vm in running], dtype=np.int64)
        if len(rows):
            self._cpu[rows, column] = [vm.usage.cpu_m for vm in running]
            self._mem[rows, column] = [vm.usage.mem_mib for vm in running]
            self._size[rows] = [(vm.size.cpu_m, vm.size.mem_mib) for vm in running]
            self._seen[rows] = self._observations
        self._forget_stale()

    def _row_of(self, name: str) -> int:
        row = self._rows.get(name)
        if row is None:
            if not self._free:
                self._grow()
            row = self._free.pop()
            self._rows[name] = row
            self._names[row] = name
        return row

    def _grow(self) -> None:
        old = (self._cpu, self._mem, self._size, self._seen, self._names)
        count = len(old[4])
        self._allocate(count * 2)
        self._cpu[:count], self._mem[:count], self._size[:count], self._seen[:count] = old[:4]
        self._names[:count] = old[4]
        self._free = list(range(count * 2 - 1, count - 1, -1))

    def _forget_stale(self) -> None:
        stale = np.nonzero((self._seen >= 0) & (self._seen <= self._observations - self._capacity))[0]
        for row in stale.tolist():
            del self._rows[self._names[row] or ""]
            self._names[row] = None
            self._seen[row] = -1
            self._cpu[row] = np.nan
            self._mem[row] = np.nan
            self._free.append(row)

    def vms(self) -> tuple[str, ...]:
        return tuple(self._rows)

    def series(self, vm: str) -> tuple[Resources, ...]:
        """The observed samples of ``vm``, oldest first."""
        row = self._rows.get(vm)
        if row is None:
            return ()
        order = self._order(self._capacity)
        cpu, mem = self._cpu[row, order], self._mem[row, order]
        return tuple(Resources(int(c), int(m)) for c, m in zip(cpu, mem, strict=True) if not np.isnan(c))

    def window(self, width: int) -> Window:
        """A copy of the last ``width`` observations of every known VM (NaN columns before the first)."""
        width = min(width, self._capacity)
        rows = np.array(list(self._rows.values()), dtype=np.int64)
        order = self._order(width)
        pad = width - len(order)
        cpu = _padded(self._cpu[np.ix_(rows, order)], pad)
        mem = _padded(self._mem[np.ix_(rows, order)], pad)
        times = np.concatenate([np.full(pad, np.nan), self._times[order]])
        return Window(tuple(self._rows), cpu, mem, times, self._size[rows, 0].copy(), self._size[rows, 1].copy())

    def _order(self, width: int) -> npt.NDArray[np.int64]:
        """Column indices of the last ``width`` observations, oldest first."""
        count = min(width, self._observations)
        return np.arange(self._observations - count, self._observations, dtype=np.int64) % self._capacity


def _padded(values: npt.NDArray[np.float32], pad: int) -> Matrix:
    out = np.full((values.shape[0], values.shape[1] + pad), np.nan)
    out[:, pad:] = values
    return out
