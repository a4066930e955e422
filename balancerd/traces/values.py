"""The values every trace reader returns: one recorded trace, one CPU series per VM.

Built by the readers of :mod:`balancerd.traces` (``planetlab``, ``bitbrains``, ``widecsv``, ``bundled``) and
read by their callers, which keep their own conversions: :func:`~balancerd.traces.sim.load_trace` for the
simulated backend, :func:`~balancerd.traces.workload.load_workload` for ``balancerd simulate``,
``balancerd bench forecast`` and the benchmarks. Arrays are read-only, so a cached trace cannot be changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def frozen_array(values: object) -> Floats:
    """``values`` as a read-only float64 array."""
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)
class Usage:
    """The other columns of a Bitbrains file, one value per step (the same length as the CPU series)."""

    times_s: Floats
    """Time of each step, seconds since the epoch (millisecond stamps are divided by 1000)."""
    cores: Floats
    mem_provisioned_kb: Floats
    mem_used_kb: Floats


@dataclass(frozen=True, slots=True, eq=False)
class VmSeries:
    """One VM's recorded CPU utilisation in percent per step (NaN where a wide CSV has no value)."""

    name: str
    cpu_pct: Floats
    usage: Usage | None = None
    """Bitbrains only: time stamps, cores and memory of each step."""

    @property
    def steps(self) -> int:
        return len(self.cpu_pct)


@dataclass(frozen=True, slots=True, eq=False)
class Recorded:
    """What one reader read: the format, the file or folder, the VMs in file order."""

    fmt: str
    source: str
    vms: tuple[VmSeries, ...]
    step_labels: tuple[str, ...] | None = None
    """Wide CSV only: the first column of each row (the label of each step)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(vm.name for vm in self.vms)

    def labels(self, index_vm: int) -> tuple[str, ...]:
        """The label of each step of VM ``index_vm``: the wide CSV's first column, else 0, 1, 2, ..."""
        if self.step_labels is not None:
            return self.step_labels
        return tuple(str(i) for i in range(self.vms[index_vm].steps))
