"""`balancerd bench roadef` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("roadef", help="not implemented yet")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print("balancerd bench roadef: not implemented yet")
    return 1
