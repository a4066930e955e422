"""How a config field is declared: :func:`opt` gives a dataclass field its default and the values allowed.

Used by every module of :mod:`balancerd.config` that declares TOML tables (:mod:`~balancerd.config.schema`,
:mod:`~balancerd.config.rules`, :mod:`~balancerd.config.simulated`, :mod:`~balancerd.config.networks`);
:mod:`balancerd.config.loading` reads the metadata when it builds a table from a parsed file.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

Amounts = tuple[tuple[str, int], ...]
"""A TOML table of names to non-negative integers (``pools = { images = 500000 }``), as sorted pairs."""


def opt(default: Any, *, lo: float | None = None, hi: float | None = None,
        choices: tuple[str, ...] | None = None, path: bool = False, required: bool = False) -> Any:
    """A config field with its default and what values are allowed; ``required`` keys must be written."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "path": path, "required": required}
    return field(default=default, metadata=meta)
