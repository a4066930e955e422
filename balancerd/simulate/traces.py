"""Utilisation traces for ``balancerd simulate``: ``planetlab:DIR``, ``bitbrains:DIR`` and ``wide-csv:FILE``.

Called by :mod:`balancerd.simulate.cli` and the benchmark; the replay reads the returned :class:`Workload`.
PlanetLab folders are read by :func:`balancerd.traces.load_trace` (one file per VM, one integer % per line);
Bitbrains GWA-T-12 folders hold one ``;``+tab separated CSV per VM (gzip or not) whose column
"CPU usage [%]" is used; a wide CSV has a header, the step in its first column and one column of % per VM.
Every series is cut to the shortest one (and to ``days`` when given). Problems raise
:class:`~balancerd.errors.ConfigError` for the key ``--trace``, naming the file.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from balancerd.errors import ConfigError
from balancerd.traces import load_trace

_KEY = "--trace"
_ALLOWED = "use planetlab:DIR, bitbrains:DIR or wide-csv:FILE"
_BITBRAINS_CPU = "CPU usage [%]"
DAY_S = 86_400

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Workload:
    """CPU utilisation in percent (0..100), one row per VM and one column per step of ``step_s`` seconds."""

    names: tuple[str, ...]
    step_s: int
    percent: Matrix
    source: str

    @property
    def steps(self) -> int:
        return int(self.percent.shape[1])

    @property
    def seconds(self) -> int:
        return self.steps * self.step_s


def load(spec: str, days: float | None = None, step_s: int = 300) -> Workload:
    """The workload named by ``spec``, cut to ``days`` days when given."""
    kind, _, where = spec.partition(":")
    if not where:
        raise ConfigError(_KEY, spec, _ALLOWED)
    if kind == "planetlab":
        trace = load_trace(spec, step_s)
        names, rows = trace.names, [np.asarray(s, dtype=np.float64) for s in trace.series]
    elif kind == "bitbrains":
        names, rows = _bitbrains(spec, Path(where))
    elif kind == "wide-csv":
        names, rows = _wide_csv(spec, Path(where))
    else:
        raise ConfigError(_KEY, spec, _ALLOWED)
    return _workload(spec, names, rows, step_s, days)


def _workload(spec: str, names: tuple[str, ...], rows: list[Matrix], step_s: int, days: float | None) -> Workload:
    length = min(len(row) for row in rows)
    if days is not None:
        if days <= 0:
            raise ConfigError("--days", days, "must be a positive number of days")
        length = min(length, max(1, round(days * DAY_S / step_s)))
    matrix = np.clip(np.stack([row[:length] for row in rows]), 0.0, 100.0)
    return Workload(names=names, step_s=step_s, percent=matrix, source=spec)


def _files(spec: str, folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(_KEY, spec, f"folder {str(folder)!r} does not exist or is not a directory")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ConfigError(_KEY, spec, f"folder {str(folder)!r} holds no trace files")
    return files


def _text(spec: str, path: Path) -> str:
    try:
        raw = path.read_bytes()
        return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(_KEY, spec, f"cannot read {path}: {exc}") from exc


def _bitbrains(spec: str, folder: Path) -> tuple[tuple[str, ...], list[Matrix]]:
    files = _files(spec, folder)
    names = tuple(p.name.removesuffix(".gz").removesuffix(".csv") for p in files)
    return names, [_bitbrains_file(spec, p) for p in files]


def _bitbrains_file(spec: str, path: Path) -> Matrix:
    """The "CPU usage [%]" column of one GWA-T-12 file."""
    lines = _text(spec, path).splitlines()
    if not lines:
        raise ConfigError(_KEY, spec, f"{path} is empty")
    header = [cell.strip() for cell in lines[0].split(";")]
    if _BITBRAINS_CPU not in header:
        raise ConfigError(_KEY, spec, f"{path} has no column {_BITBRAINS_CPU!r}")
    column = header.index(_BITBRAINS_CPU)
    values = [_number(spec, path, n, line.split(";")[column]) for n, line in enumerate(lines[1:], start=2)
              if line.strip()]
    if not values:
        raise ConfigError(_KEY, spec, f"{path} holds no values")
    return np.asarray(values, dtype=np.float64)


def _wide_csv(spec: str, path: Path) -> tuple[tuple[str, ...], list[Matrix]]:
    """First column the step, then one column of percentages per VM."""
    rows = list(csv.reader(io.StringIO(_text(spec, path))))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ConfigError(_KEY, spec, f"{path} needs a header and at least one row of step + VM columns")
    names = tuple(cell.strip() for cell in rows[0][1:])
    body = [[_number(spec, path, n, cell) for cell in row[1:]] for n, row in enumerate(rows[1:], start=2)
            if any(cell.strip() for cell in row)]
    if any(len(row) != len(names) for row in body):
        raise ConfigError(_KEY, spec, f"{path}: every row needs {len(names)} VM columns")
    matrix = np.asarray(body, dtype=np.float64).T
    return names, list(matrix)


def _number(spec: str, path: Path, line: int, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError as exc:
        raise ConfigError(_KEY, spec, f"{path} line {line}: {text.strip()!r} is not a number") from exc
