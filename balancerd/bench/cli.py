"""`balancerd bench`: the benchmark sub-commands (roadef, forecast).

Called by :mod:`balancerd.cli`. Each benchmark module exposes ``register(subparsers)`` and sets ``func``
on its parser; this module only gathers them.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``bench`` with one sub-command per benchmark module."""
    parser: argparse.ArgumentParser = subparsers.add_parser("bench", help="run a benchmark, print JSON")
    bench = parser.add_subparsers(dest="benchmark", required=True)
    from balancerd.bench import forecast, roadef

    roadef.register(bench)
    forecast.register(bench)
