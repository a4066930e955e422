"""The Bitbrains (GWA-T-12) reader: a folder of ``;``-and-tab separated CSV files, one per VM, gzip or not.

Called by :func:`~balancerd.traces.formats.read` (``balancerd simulate --trace bitbrains:DIR``,
``balancerd bench forecast --format bitbrains``, ``benchmarks/optimizer_scale.py --bitbrains``). Columns are
found by their header names; the CPU series is "CPU usage [%]", the rest goes into :class:`Usage`.
"""

from __future__ import annotations

from pathlib import Path

from balancerd.errors import TraceError
from balancerd.traces.files import number, read_text, trace_files, vm_name
from balancerd.traces.values import Floats, Recorded, Usage, VmSeries, frozen_array

FORMAT = "bitbrains"
FIX = ("a Bitbrains folder holds one ';'-separated CSV per VM (gzip or not) with the GWA-T-12 header "
       "'Timestamp [ms]; CPU cores; ...; CPU usage [%]; Memory capacity provisioned [KB]; Memory usage [KB]; ...'")
CPU = "CPU usage [%]"
COLUMNS = ("Timestamp [ms]", "CPU cores", CPU, "Memory capacity provisioned [KB]", "Memory usage [KB]")
_MS_ABOVE = 1e11
"""Stamps above this are milliseconds (the header says ms, the Rnd files hold seconds)."""


def read_bitbrains(folder: Path) -> Recorded:
    """Every file of ``folder``, sorted by name; a VM is named after its file without ``.csv.gz``."""
    vms = tuple(read_bitbrains_file(path) for path in trace_files(folder, FIX))
    return Recorded(fmt=FORMAT, source=str(folder), vms=vms)


def read_bitbrains_file(path: Path) -> VmSeries:
    """One GWA-T-12 file."""
    lines = read_text(path, FIX).splitlines()
    if not lines:
        raise TraceError(path, "the file is empty", FIX)
    indexes = _column_indexes(path, lines[0])
    rows = [_row(path, n, line, indexes) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    if not rows:
        raise TraceError(path, "the file holds no values", FIX)
    stamp, cores, cpu, mem_provisioned, mem_used = (frozen_array(column) for column in zip(*rows, strict=True))
    usage = Usage(times_s=_seconds(stamp), cores=cores, mem_provisioned_kb=mem_provisioned, mem_used_kb=mem_used)
    return VmSeries(name=vm_name(path), cpu_pct=cpu, usage=usage)


def _column_indexes(path: Path, header: str) -> tuple[int, ...]:
    """Where each of :data:`COLUMNS` is in the header line."""
    cells = [cell.strip() for cell in header.split(";")]
    for name in COLUMNS:
        if name not in cells:
            raise TraceError(path, f"the header has no column {name!r}", FIX, 1)
    return tuple(cells.index(name) for name in COLUMNS)


def _row(path: Path, line: int, text: str, indexes: tuple[int, ...]) -> tuple[float, ...]:
    """The numbers of :data:`COLUMNS` in one data line."""
    cells = text.split(";")
    if len(cells) <= max(indexes):
        raise TraceError(path, f"{len(cells)} columns where the header has at least {max(indexes) + 1}", FIX, line)
    return tuple(number(path, line, cells[i], FIX) for i in indexes)


def _seconds(stamp: Floats) -> Floats:
    """Time stamps in seconds."""
    if len(stamp) and stamp.max() > _MS_ABOVE:
        return frozen_array(stamp / 1000.0)
    return stamp
