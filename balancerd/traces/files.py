"""What the trace readers share: listing a trace folder, reading a file (gzip or not), parsing one number.

Called by the format readers (:mod:`~balancerd.traces.planetlab`, :mod:`~balancerd.traces.bitbrains`,
:mod:`~balancerd.traces.widecsv`, :mod:`~balancerd.traces.bundled`). Every problem raises
:class:`~balancerd.errors.TraceError` naming the file (and the line) and saying how to fix it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from balancerd.errors import TraceError

_SUFFIXES = (".gz", ".csv", ".txt")


def trace_files(folder: Path, fix: str) -> list[Path]:
    """The files of ``folder`` sorted by name, hidden files aside; ``fix`` says what the folder should hold."""
    if not folder.is_dir():
        raise TraceError(folder, "the folder does not exist or is not a directory", fix)
    files = sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
    if not files:
        raise TraceError(folder, "the folder holds no trace files", fix)
    return files


def read_text(path: Path, fix: str) -> str:
    """The text of ``path`` (UTF-8), decompressed first when its name ends in ``.gz``."""
    try:
        raw = path.read_bytes()
        return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise TraceError(path, f"cannot read the file ({exc})", fix) from exc


def vm_name(path: Path) -> str:
    """The VM name of a trace file: its name without ``.gz``, ``.csv`` and ``.txt``."""
    name = path.name
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def number(path: Path, line: int, text: str, fix: str) -> float:
    """One decimal number of a CSV cell."""
    try:
        return float(text.strip())
    except ValueError as exc:
        raise TraceError(path, f"{text.strip()!r} is not a number", fix, line) from exc


def percent(path: Path, line: int, text: str, fix: str) -> int:
    """One integer CPU percentage in 0..100."""
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise TraceError(path, f"{text.strip()!r} is not an integer CPU percentage", fix, line) from exc
    if not 0 <= value <= 100:
        raise TraceError(path, f"{value} is outside 0..100", fix, line)
    return value
