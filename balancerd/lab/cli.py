"""`balancerd lab up | status | down`: the command line of the lab.

``register(subparsers)`` is called by the top-level balancerd/cli.py; each sub-command sets ``func``
returning the exit code. ``python -m balancerd.lab.cli ...`` runs it stand-alone (``main``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence

from balancerd.lab import control, lifecycle, paths, state, status
from balancerd.lab.errors import LabError


def _log(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lab`` with ``up``, ``status`` and ``down`` to a parent parser's sub-commands."""
    lab = subparsers.add_parser("lab", help="a real multi-host libvirt + QEMU lab on this machine")
    sub = lab.add_subparsers(dest="lab_command", required=True)
    up = sub.add_parser("up", help="start N hosts (libvirtd in namespaces) and K guests")
    up.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    up.add_argument("--vms", type=int, default=3, help="number of guests, round-robin (default 3)")
    up.add_argument("--virt", choices=("auto", "qemu", "kvm"), default="auto",
                    help="TCG (qemu) or KVM; auto uses KVM only if a probe guest boots under it")
    up.add_argument("--no-guests", action="store_true", help="start the hosts only")
    up.set_defaults(func=cmd_up)
    st = sub.add_parser("status", help="show the hosts and guests of the lab")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
    down = sub.add_parser("down", help="stop everything `up` started and remove its files")
    down.set_defaults(func=cmd_down)
    load = sub.add_parser("load", help="make a guest busy: CPU % of its vCPU and MiB held in memory")
    load.add_argument("guest", help="guest name, e.g. vm1")
    load.add_argument("--load", type=int, default=0, help="percent of one vCPU to burn, 0..100")
    load.add_argument("--mem", type=int, default=0, help="MiB to hold (and rewrite while load > 0)")
    load.set_defaults(func=cmd_load)
    for parser in (up, st, down, load):
        parser.add_argument("--dir", default=None,
                            help=f"lab directory on a disk FS (default ${paths.ENV_DIR} or {paths.DEFAULT_DIR})")


def _layout(args: argparse.Namespace) -> paths.LabLayout:
    return paths.LabLayout(paths.lab_dir(args.dir))


def cmd_up(args: argparse.Namespace) -> int:
    layout = _layout(args)
    request = lifecycle.UpRequest(hosts=args.hosts, vms=args.vms, virt=args.virt, guests=not args.no_guests)
    t0 = time.monotonic()
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        lab = lifecycle.up(layout, request, _log)
    except LabError as exc:
        _log(f"error: {exc}")
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _log(f"up done in {time.monotonic() - t0:.1f} s; config {lab.config}")
    return 0


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM/SIGHUP during `up`: unwind, so `up` tears down what it had started."""
    raise SystemExit(128 + signum)


def cmd_status(args: argparse.Namespace) -> int:
    layout = _layout(args)
    try:
        lab = state.load(layout.state_file)
        if lab is None:
            _log(f"no lab is up in {layout.root}")
            return 1
        report = status.collect(layout, lab)
    except LabError as exc:
        _log(f"error: {exc}")
        return 1
    print(json.dumps(report, indent=2) if args.json else status.render(report))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    layout = _layout(args)
    t0 = time.monotonic()
    try:
        found = lifecycle.down(layout, _log)
    except LabError as exc:
        _log(f"error: {exc}")
        return 1
    if not found:
        _log(f"no lab is up in {layout.root}; nothing to do")
        return 0
    _log(f"down done in {time.monotonic() - t0:.1f} s")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    layout = _layout(args)
    try:
        control.set_load(layout, args.guest, args.load, args.mem)
    except (LabError, ValueError) as exc:
        _log(f"error: {exc}")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="balancerd")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: ``python -m balancerd.lab.cli up ...`` (``lab`` is implied)."""
    args = build_parser().parse_args(["lab", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
