"""`balancerctl`: the operator's handle on a running daemon.

``maintenance enter|exit HOST`` (and ``drain HOST``) edit the maintenance file named by the config and
signal the daemon (SIGUSR1, via its pid file) so it acts at once; ``status`` prints what the daemon last
wrote to its status file. Unknown host names are reported with the list of known ones (exit 2).
Exit codes: 0 ok, 1 error, 2 unknown host, 3 daemon not running (the file is still edited), 78 bad config.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from balancerd import config as config_mod
from balancerd import maintenance
from balancerd.config import Config
from balancerd.errors import BalancerdError, ConfigError, StateError, UnknownHostError
from balancerd.service import pidfile, status

EXIT_UNKNOWN_HOST = 2
EXIT_NOT_RUNNING = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="balancerctl", description="Control a running balancerd")
    parser.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    sub = parser.add_subparsers(dest="command", required=True)
    maint = sub.add_parser("maintenance", help="put a host into or out of maintenance")
    maint.add_argument("action", choices=("enter", "exit"))
    maint.add_argument("host")
    maint.set_defaults(func=cmd_maintenance)
    drain = sub.add_parser("drain", help="same as 'maintenance enter HOST'")
    drain.add_argument("host")
    drain.set_defaults(func=cmd_drain)
    stat = sub.add_parser("status", help="hosts, load, maintenance, in-flight migrations, drain progress")
    stat.add_argument("--json", action="store_true")
    stat.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_mod.load(args.config)
        code: int = args.func(args, config)
    except ConfigError as exc:
        print(f"balancerctl: {exc}", file=sys.stderr)
        return ConfigError.exit_code
    except UnknownHostError as exc:
        print(f"balancerctl: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN_HOST
    except BalancerdError as exc:
        print(f"balancerctl: {exc}", file=sys.stderr)
        return 1
    return code


def known_hosts(config: Config) -> tuple[str, ...]:
    """Host names of the cluster: from the daemon's status, else the config."""
    try:
        return tuple(h["name"] for h in status.read(config.paths.status_file)["hosts"])
    except (StateError, KeyError, TypeError):
        pass
    if config.hosts:
        return tuple(h.name for h in config.hosts)
    from balancerd.backends.sim import host_names

    return host_names(config.sim)


def cmd_maintenance(args: argparse.Namespace, config: Config) -> int:
    known = known_hosts(config)
    if args.host not in known:
        raise UnknownHostError(args.host, known)
    path = config.paths.maintenance_file
    changed = maintenance.enter(path, args.host) if args.action == "enter" else maintenance.leave(path, args.host)
    verb = "enters" if args.action == "enter" else "leaves"
    print(f"{args.host} {verb} maintenance" + ("" if changed else " (no change: already so)"))
    return _signal_daemon(config)


def cmd_drain(args: argparse.Namespace, config: Config) -> int:
    args.action = "enter"
    return cmd_maintenance(args, config)


def _signal_daemon(config: Config) -> int:
    pid = pidfile.running_pid(config.paths.pid_file)
    if pid is None:
        print(f"balancerctl: balancerd is not running (no live pid in {config.paths.pid_file}); "
              "the maintenance file is updated and will be read at its next start", file=sys.stderr)
        return EXIT_NOT_RUNNING
    os.kill(pid, signal.SIGUSR1)
    return 0


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    document = status.read(config.paths.status_file)
    document["running"] = pidfile.running_pid(config.paths.pid_file) is not None
    print(json.dumps(document, indent=2) if args.json else status_text(document))
    return 0


def status_text(doc: dict[str, Any]) -> str:
    """A table of hosts and what is in flight."""
    state = "running" if doc.get("running") else "NOT RUNNING"
    lines = [f"balancerd {state}, mode {doc['mode']}, cycle {doc['cycle']}, imbalance {doc['imbalance']:.3f}",
             f"{'HOST':<16}{'STATE':<14}{'VMS':>5}{'CPU':>8}{'MEM':>8}  DRAIN LEFT"]
    drains = doc.get("drain_remaining", {})
    for h in doc["hosts"]:
        state = "unreachable" if not h["reachable"] else ("maintenance" if h["maintenance"] else "active")
        lines.append(f"{h['name']:<16}{state:<14}{h['vms']:>5}{_pct(h['cpu_util']):>8}{_pct(h['memory_util']):>8}"
                     f"  {drains.get(h['name'], '')}")
    for f in doc.get("in_flight", []):
        lines.append(f"in flight: {f['vm']} {f['source']} -> {f['dest']}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


if __name__ == "__main__":
    sys.exit(main())
