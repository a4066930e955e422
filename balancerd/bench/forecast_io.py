"""The predictions CSV of ``balancerd bench forecast`` (``--predictions-out``) and of the forecast benchmark.

Called by :mod:`balancerd.bench.forecast` and ``benchmarks/forecast_backtest.py``. Reading the traces is
:mod:`balancerd.traces`'s job; this module only writes ``vm,step,actual,predicted,p95`` rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from balancerd.errors import TraceError


def write_predictions(path: Path, rows: Iterable[tuple[str, str, float, float, float]]) -> None:
    """Write ``vm,step,actual,predicted,p95`` rows."""
    try:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("vm", "step", "actual", "predicted", "p95"))
            for vm, step, actual, predicted, p95 in rows:
                writer.writerow((vm, step, f"{actual:.6g}", f"{predicted:.6g}", f"{p95:.6g}"))
    except OSError as exc:
        raise TraceError(path, f"cannot write predictions ({exc})", "give --predictions-out a writable file") from exc
