"""Reading CPU traces for ``balancerd bench forecast`` and writing its predictions CSV.

Called by :mod:`balancerd.bench.forecast`. Three formats, all giving CPU utilisation in percent per step:
``planetlab`` (a folder of files, one integer per line, 5-minute steps), ``bitbrains`` (GWA-T-12: a folder of
``;``-and-tab separated CSV files, gzip or not, column "CPU usage [%]") and ``wide-csv`` (first column the
step, then one column per VM). Every problem raises :class:`~balancerd.errors.BalancerdError` naming the file.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from balancerd.errors import BalancerdError
from balancerd.predict.dataset import SeriesSet
from balancerd.predict.features import Array

FORMATS = ("planetlab", "bitbrains", "wide-csv")
PLANETLAB_STEP_S = 300
_BITBRAINS_CPU = "CPU usage [%]"
_BITBRAINS_TIME = "Timestamp [ms]"
_BITBRAINS_CORES = "CPU cores"


class TraceError(BalancerdError):
    """A trace file or folder that cannot be read as the format says."""


@dataclass(frozen=True, slots=True)
class Traces:
    """Loaded series, the VM name of each and the label of each step (for the predictions CSV)."""

    names: tuple[str, ...]
    steps: tuple[tuple[str, ...], ...]
    series: SeriesSet


def load(fmt: str, path: Path) -> Traces:
    """Read ``path`` in format ``fmt``."""
    if fmt == "planetlab":
        return _planetlab(path)
    if fmt == "bitbrains":
        return _bitbrains(path)
    if fmt == "wide-csv":
        return _wide_csv(path)
    raise TraceError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise TraceError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise TraceError(f"{folder}: no files")
    return files


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".txt"):
        name = name.removesuffix(suffix)
    return name


def _planetlab(folder: Path) -> Traces:
    names, values = [], []
    for path in _files(folder):
        try:
            numbers = [float(line) for line in path.read_text().split()]
        except (OSError, ValueError) as exc:
            raise TraceError(f"{path}: expected one number per line ({exc})") from exc
        names.append(_stem(path))
        values.append(np.array(numbers))
    times = tuple(np.arange(len(v), dtype=np.float64) * PLANETLAB_STEP_S for v in values)
    return _traces(names, values, times, np.full(len(values), np.nan))


def _bitbrains(folder: Path) -> Traces:
    names, values, times, sizes = [], [], [], []
    for path in _files(folder):
        cpu, stamp, cores = _bitbrains_file(path)
        names.append(_stem(path))
        values.append(cpu)
        times.append(stamp)
        sizes.append(cores)
    return _traces(names, values, tuple(times), np.log(np.array(sizes)))


def _bitbrains_file(path: Path) -> tuple[Array, Array, float]:
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", newline="") as handle:
            rows = [[cell.strip() for cell in row] for row in csv.reader(handle, delimiter=";")]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read ({exc})") from exc
    header, body = rows[0], [r for r in rows[1:] if r and any(r)]
    try:
        cpu_col, time_col, core_col = (header.index(c) for c in (_BITBRAINS_CPU, _BITBRAINS_TIME, _BITBRAINS_CORES))
        cpu = np.array([float(r[cpu_col]) for r in body])
        stamp = np.array([float(r[time_col]) for r in body])
        cores = float(body[0][core_col]) if body else math.nan
    except (ValueError, IndexError) as exc:
        raise TraceError(f"{path}: expected columns {_BITBRAINS_CPU!r} and {_BITBRAINS_TIME!r} ({exc})") from exc
    if len(stamp) and stamp.max() > 1e11:
        stamp = stamp / 1000.0
    return cpu, stamp, max(cores, 1.0)


def _wide_csv(path: Path) -> Traces:
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read ({exc})") from exc
    if len(rows) < 2 or len(rows[0]) < 2:
        raise TraceError(f"{path}: expected a header and rows: step, then one column per VM")
    names, body = rows[0][1:], [r for r in rows[1:] if r]
    steps = tuple(r[0] for r in body)
    try:
        matrix = np.array([[_cell(c) for c in r[1:]] for r in body], dtype=np.float64)
    except ValueError as exc:
        raise TraceError(f"{path}: expected numbers ({exc})") from exc
    values = [matrix[:, i] for i in range(len(names))]
    nan_times = tuple(np.full(len(body), np.nan) for _ in names)
    traces = _traces(names, values, nan_times, np.full(len(names), np.nan))
    return Traces(traces.names, tuple(steps for _ in names), traces.series)


def _cell(text: str) -> float:
    return float(text) if text.strip() else math.nan


def _traces(names: list[str], values: list[Array], times: tuple[Array, ...], log_sizes: Array) -> Traces:
    steps = tuple(tuple(str(i) for i in range(len(v))) for v in values)
    return Traces(tuple(names), steps, SeriesSet(tuple(values), times, log_sizes))


def write_predictions(path: Path, rows: Iterable[tuple[str, str, float, float, float]]) -> None:
    """Write ``vm,step,actual,predicted,p95`` rows."""
    try:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("vm", "step", "actual", "predicted", "p95"))
            for vm, step, actual, predicted, p95 in rows:
                writer.writerow((vm, step, f"{actual:.6g}", f"{predicted:.6g}", f"{p95:.6g}"))
    except OSError as exc:
        raise TraceError(f"{path}: cannot write predictions ({exc})") from exc
