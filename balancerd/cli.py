"""`balancerd` command line: run | plan | simulate | lab | bench.

Installed as the `balancerd` console script. Each sub-command sets ``func`` on its parser; :func:`main`
parses, calls it and turns a :class:`~balancerd.errors.ConfigError` into exit code 78.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from balancerd.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="balancerd", description="Load-balancing daemon for libvirt/KVM clusters")
    sub = parser.add_subparsers(dest="command", required=True)
    from balancerd.lab import cli as lab_cli

    lab_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"balancerd: {exc}", file=sys.stderr)
        return ConfigError.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
