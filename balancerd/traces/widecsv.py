"""The wide-CSV reader: a header, the step in the first column, then one column of CPU % per VM (gzip or not).

Called by :func:`~balancerd.traces.formats.read` (``balancerd simulate --trace wide-csv:FILE``,
``balancerd bench forecast --format wide-csv``). An empty cell is a step without a value (NaN); rows whose
cells are all blank are ignored. The first column is kept as each step's label.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from balancerd.errors import TraceError
from balancerd.traces.files import number, read_text
from balancerd.traces.values import Recorded, VmSeries, frozen_array

FORMAT = "wide-csv"
FIX = "a wide CSV has a header 'step,VM1,VM2,...' and then one row per step: its label, then one CPU % per VM"


def read_wide_csv(path: Path) -> Recorded:
    """The columns of ``path`` as VMs, named by the header."""
    rows = list(csv.reader(io.StringIO(read_text(path, FIX))))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise TraceError(path, "the file needs a header and at least one row of step + VM columns", FIX)
    names = tuple(cell.strip() for cell in rows[0][1:])
    body = [(n, row) for n, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise TraceError(path, "the file holds no rows of values", FIX)
    matrix = [_values(path, n, row, len(names)) for n, row in body]
    vms = tuple(VmSeries(name=name, cpu_pct=frozen_array(column))
                for name, column in zip(names, zip(*matrix, strict=True), strict=True))
    return Recorded(fmt=FORMAT, source=str(path), vms=vms, step_labels=tuple(row[0] for _, row in body))


def _values(path: Path, line: int, row: list[str], width: int) -> list[float]:
    """The VM cells of one row: numbers, NaN where a cell is empty."""
    if len(row) != width + 1:
        raise TraceError(path, f"{len(row) - 1} VM columns where the header names {width}", FIX, line)
    return [number(path, line, cell, FIX) if cell.strip() else math.nan for cell in row[1:]]
