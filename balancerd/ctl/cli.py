"""`balancerctl`: the operator's handle on a running daemon.

``maintenance enter|exit HOST`` (and ``drain HOST``) edit the maintenance file named by the config and
signal the daemon (SIGUSR1, via its pid file) so it acts at once; ``drain HOST --wait`` then follows the
drain with a progress bar (VMs left, GiB left, ETA; :mod:`balancerd.ctl.drainwatch`) until the host is empty,
or the drain fails or stalls. ``status`` prints what the daemon last wrote to its status file as a table.
``--json`` makes ``status`` and ``drain`` print JSON (``drain --wait --json``: one object per line).
Unknown host names are reported with the list of known ones.

Exit codes: 0 ok (drain --wait: the host is empty), 1 error, 2 unknown host, 3 daemon not running (the file
is still edited), 4 drain failed (migrations from the host kept failing), 5 drain stalled (nothing can move,
mode recommend, or no progress for --stall-timeout), 78 bad config, 130 interrupted (the drain goes on).
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
from balancerd.clock import Clock, SystemClock
from balancerd.config import Config
from balancerd.ctl import drainwatch
from balancerd.ctl.drainwatch import DrainWatch, Progress, Verdict, WatchLimits
from balancerd.errors import BalancerdError, ConfigError, StateError, UnknownHostError
from balancerd.service import pidfile, status

EXIT_UNKNOWN_HOST = 2
EXIT_NOT_RUNNING = drainwatch.EXIT_NOT_RUNNING
EXIT_FAILED = drainwatch.EXIT_FAILED
EXIT_STALLED = drainwatch.EXIT_STALLED
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="balancerctl", description="Control a running balancerd")
    parser.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    sub = parser.add_subparsers(dest="command", required=True)
    maint = sub.add_parser("maintenance", help="put a host into or out of maintenance")
    maint.add_argument("action", choices=("enter", "exit"))
    maint.add_argument("host")
    maint.set_defaults(func=cmd_maintenance)
    drain = sub.add_parser("drain", help="'maintenance enter HOST'; with --wait, follow it until the host is empty")
    drain.add_argument("host")
    drain.add_argument("--wait", action="store_true", help="show progress until the host is empty, then exit 0; "
                       "exit 4 when the drain fails, 5 when it stalls")
    drain.add_argument("--json", action="store_true", help="JSON output (with --wait: one object per line)")
    drain.add_argument("--stall-timeout", type=float, default=WatchLimits().stall_timeout_s, metavar="S",
                       help="give up when no VM left the host for S seconds (default %(default)g)")
    drain.add_argument("--max-failures", type=int, default=WatchLimits().max_failures, metavar="N",
                       help="give up after N failed migrations from the host (default %(default)d)")
    drain.set_defaults(func=cmd_drain)
    stat = sub.add_parser("status", help="hosts, load, maintenance, in-flight migrations, drain progress")
    stat.add_argument("--json", action="store_true")
    stat.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.clock = clock or SystemClock()
    try:
        config = config_mod.load(args.config)
        code: int = args.func(args, config)
    except KeyboardInterrupt:
        print("\nbalancerctl: interrupted; the daemon goes on draining", file=sys.stderr)
        return EXIT_INTERRUPTED
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
    from balancerd.backends.sim.fromconfig import host_names

    return host_names(config.sim)


def cmd_maintenance(args: argparse.Namespace, config: Config) -> int:
    changed = _edit_maintenance(args.host, args.action, config)
    verb = "enters" if args.action == "enter" else "leaves"
    print(f"{args.host} {verb} maintenance" + ("" if changed else " (no change: already so)"))
    return _signal_daemon(config)


def _edit_maintenance(host: str, action: str, config: Config) -> bool:
    known = known_hosts(config)
    if host not in known:
        raise UnknownHostError(host, known)
    path = config.paths.maintenance_file
    return maintenance.enter(path, host) if action == "enter" else maintenance.leave(path, host)


def cmd_drain(args: argparse.Namespace, config: Config) -> int:
    changed = _edit_maintenance(args.host, "enter", config)
    if args.json:
        print(json.dumps({"event": "maintenance", "host": args.host, "changed": changed}), flush=True)
    else:
        print(f"{args.host} enters maintenance" + ("" if changed else " (no change: already so)"), flush=True)
    code = _signal_daemon(config)
    if code != 0 or not args.wait:
        return code
    limits = WatchLimits(stall_timeout_s=args.stall_timeout, max_failures=args.max_failures)
    verdict = wait_for_drain(args.host, config, args.clock, limits, args.json)
    return verdict.exit_code


def wait_for_drain(host: str, config: Config, clock: Clock, limits: WatchLimits, as_json: bool) -> Verdict:
    """Follow the drain of ``host`` until it ends; print progress and the verdict."""
    live = not as_json and sys.stdout.isatty()
    sink = _json_progress if as_json else (_live_bar if live else _line_bar)
    verdict = drainwatch.follow(DrainWatch(host, clock, limits), lambda: _read_status(config), clock, sink,
                                limits.poll_s)
    if live:
        print()
    if as_json:
        print(json.dumps({"event": verdict.result, "host": host, "reason": verdict.reason,
                          "exit_code": verdict.exit_code}), flush=True)
    else:
        stream = sys.stdout if verdict.exit_code == 0 else sys.stderr
        print(f"{host}: {verdict.result}: {verdict.reason}", file=stream, flush=True)
    return verdict


def _read_status(config: Config) -> tuple[dict[str, Any] | None, bool]:
    running = pidfile.running_pid(config.paths.pid_file) is not None
    try:
        return status.read(config.paths.status_file), running
    except StateError:
        return None, running


def _live_bar(progress: Progress) -> None:
    print("\r" + drainwatch.bar(progress) + "\x1b[K", end="", flush=True)


def _line_bar(progress: Progress) -> None:
    print(drainwatch.bar(progress), flush=True)


def _json_progress(progress: Progress) -> None:
    print(json.dumps({"event": "progress", "host": progress.host, "vms_left": progress.vms,
                      "mem_mib_left": progress.mem_mib, "total_vms": progress.total_vms,
                      "total_mem_mib": progress.total_mem_mib, "in_flight": progress.in_flight,
                      "cycle": progress.cycle, "elapsed_s": round(progress.elapsed_s, 1),
                      "eta_s": None if progress.eta_s is None else round(progress.eta_s, 1)}), flush=True)


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
    """A table of hosts, then what is in flight, blocked or failing on drained hosts."""
    state = f"running (pid {doc.get('pid')})" if doc.get("running") else "NOT RUNNING"
    plan = doc.get("plan", {})
    lines = [f"balancerd {state}, mode {doc['mode']}, cycle {doc['cycle']}, imbalance {doc['imbalance']:.3f}, "
             f"last plan {plan.get('moves', 0)} moves",
             f"{'HOST':<16}{'STATE':<13}{'VMS':>5}{'VM GiB':>8}{'CPU':>6}{'MEM':>6}  DRAIN"]
    lines += [_host_row(h, doc) for h in doc["hosts"]]
    lines += [f"in flight: {f['vm']} {f['source']} -> {f['dest']}" for f in doc.get("in_flight", [])]
    for host, drain in sorted(doc.get("drains", {}).items()):
        lines += [f"blocked on {host}: {b['vm']}: {'; '.join(b['reasons'])}" for b in drain.get("blocked", [])]
        lines += [f"failed from {host}: {f['vm']} -> {f['dest']} {f['outcome']}: {f['detail']}"
                  for f in drain.get("failures", [])[-3:]]
    return "\n".join(lines)


def _host_row(h: dict[str, Any], doc: dict[str, Any]) -> str:
    state = "unreachable" if not h["reachable"] else ("maintenance" if h["maintenance"] else "active")
    mem = h.get("vms_mem_mib")
    gib = "-" if mem is None else f"{mem / 1024:.1f}"
    return (f"{h['name']:<16}{state:<13}{h['vms']:>5}{gib:>8}{_pct(h['cpu_util']):>6}{_pct(h['memory_util']):>6}"
            f"  {_drain_cell(h['name'], doc)}").rstrip()


def _drain_cell(host: str, doc: dict[str, Any]) -> str:
    drain = doc.get("drains", {}).get(host)
    if drain is None:
        left = doc.get("drain_remaining", {}).get(host)
        return "" if left is None else f"{left} VMs left"
    if drain["vms"] == 0:
        return "drained"
    flight = f", {drain['in_flight']} in flight" if drain.get("in_flight") else ""
    return f"{drain['vms']} VMs / {drain['mem_mib'] / 1024:.1f} GiB left{flight}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


if __name__ == "__main__":
    sys.exit(main())
