"""The maintenance file: one host name per line, ``#`` comments.

The daemon re-reads it every cycle and on SIGUSR1; ``balancerctl maintenance enter|exit`` edits it
(atomically, keeping comments) and then signals the daemon. Hosts listed here are cordoned and drained.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from balancerd.errors import StateError


def parse(text: str) -> frozenset[str]:
    """Host names in the file's text: first word of each line, comments and blanks ignored."""
    names = set()
    for line in text.splitlines():
        content = line.split("#", 1)[0].strip()
        if content:
            names.add(content.split()[0])
    return frozenset(names)


def read(path: Path) -> frozenset[str]:
    """Hosts in maintenance; a missing file means none."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read maintenance file {path}: {exc}") from exc


def enter(path: Path, host: str) -> bool:
    """Add ``host``; False if it was already listed."""
    lines = _lines(path)
    if host in parse("\n".join(lines)):
        return False
    _write(path, [*lines, host])
    return True


def leave(path: Path, host: str) -> bool:
    """Remove every line naming ``host``; False if it was not listed."""
    lines = _lines(path)
    kept = [line for line in lines if parse(line) != frozenset({host})]
    if len(kept) == len(lines):
        return False
    _write(path, kept)
    return True


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ["# hosts in maintenance, one per line (managed by balancerctl)"]
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read maintenance file {path}: {exc}") from exc


def _write(path: Path, lines: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".maintenance.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(f"cannot write maintenance file {path}: {exc}") from exc
