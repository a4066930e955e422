"""The trace formats by name: ``planetlab``, ``bitbrains`` and ``wide-csv``, and the reader of each.

Called by ``balancerd bench forecast`` (``--format``, :mod:`balancerd.bench.forecast`) and by
:func:`~balancerd.traces.workload.load_workload` (``balancerd simulate --trace FORMAT:PATH``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from balancerd.errors import TraceError
from balancerd.traces.bitbrains import read_bitbrains
from balancerd.traces.planetlab import read_planetlab
from balancerd.traces.values import Recorded
from balancerd.traces.widecsv import read_wide_csv

READERS: dict[str, Callable[[Path], Recorded]] = {
    "planetlab": read_planetlab,
    "bitbrains": read_bitbrains,
    "wide-csv": read_wide_csv,
}
FORMATS = tuple(READERS)


def read(fmt: str, path: Path) -> Recorded:
    """Read ``path`` (a folder, or a file for ``wide-csv``) in format ``fmt``."""
    reader = READERS.get(fmt)
    if reader is None:
        raise TraceError(path, f"unknown trace format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    return reader(path)
