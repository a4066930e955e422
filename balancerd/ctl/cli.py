"""`balancerctl`: the operator's handle on a running daemon.

Most verbs speak the daemon's control API over its Unix socket (:mod:`balancerd.api.client`; the socket is
``--socket`` or the config's ``[control] socket``): ``plan``, ``explain VM``, ``pause [--abort-running]``,
``resume`` and ``approve PLAN_ID`` need it. ``release VM`` (:mod:`balancerd.ctl.release`) asks the API, and
when nothing listens clears the VM's failure memory in the journal file itself. ``maintenance enter|exit
HOST`` (and ``drain HOST``) ask the API when the daemon answers on the socket; when nothing listens they edit
the maintenance file named by the config and signal the daemon (SIGUSR1, via its pid file) so it acts at
once. ``drain HOST --wait`` then follows the drain with a progress bar (VMs left, GiB left, ETA;
:mod:`balancerd.ctl.drainwatch`) until the host is empty, or the drain fails or stalls. ``status`` prints the
daemon's status as a table (held VMs included): from the API when it answers, else what the daemon last
wrote to its status file. ``--json`` makes ``status``, ``drain``, ``plan``, ``explain`` and the other API
verbs print JSON (``drain --wait --json``: one object per line). Unknown host names are reported with the
list of known ones. Answers are printed by :mod:`balancerd.ctl.views`.

Exit codes: 0 ok (drain --wait: the host is empty; release: released, in the journal file when no daemon
runs, or nothing to release), 1 error, 2 unknown host, 3 daemon not running (for
maintenance and drain the file is still edited; the API verbs did nothing), 4 drain failed (migrations from
the host kept failing), 5 drain stalled (nothing can move, mode recommend, or no progress for
--stall-timeout), 6 the daemon refused the request (its reason is printed: not root, unknown VM or plan, a
plan too old, mode enforce, ...), 78 bad config, 130 interrupted (the drain goes on).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from balancerd import config as config_mod
from balancerd import maintenance
from balancerd.api.client import ControlClient
from balancerd.api.errors import ApiClientError, NotListeningError, RefusedError
from balancerd.clock import Clock, SystemClock
from balancerd.config import Config
from balancerd.ctl import draincheck, drainwatch, release, restore, views
from balancerd.ctl.drainwatch import DrainWatch, Progress, Verdict, WatchLimits
from balancerd.errors import BalancerdError, ConfigError, StateError, UnknownHostError
from balancerd.service import pidfile, status

EXIT_UNKNOWN_HOST = 2
EXIT_NOT_RUNNING = drainwatch.EXIT_NOT_RUNNING
EXIT_FAILED = drainwatch.EXIT_FAILED
EXIT_STALLED = drainwatch.EXIT_STALLED
EXIT_REFUSED = 6
EXIT_CYCLE_FAILED = 7
EXIT_INTERRUPTED = 130
STATUS_TIMEOUT_S = 10.0
_HOST_VERBS = ("maintenance", "drain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="balancerctl", description="Control a running balancerd")
    parser.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    parser.add_argument("--socket", type=Path, default=None, metavar="PATH",
                        help="the daemon's control socket (default: the config's [control] socket)")
    sub = parser.add_subparsers(dest="command", required=True)
    maint = sub.add_parser("maintenance", help="put a host into or out of maintenance")
    maint.add_argument("action", choices=("enter", "exit"))
    maint.add_argument("host")
    maint.add_argument("--restore", action="store_true",
                       help="with exit: bring the VMs drained off the host back to it ([maintenance] restore)")
    maint.set_defaults(func=cmd_maintenance)
    drain = sub.add_parser("drain", help="'maintenance enter HOST'; with --wait, follow it until the host is empty")
    drain.add_argument("host")
    drain.add_argument("--check", action="store_true", help="only print the drain proof (moves in order with "
                       "estimated duration, or the VMs with nowhere to go); change nothing; exit 0 feasible, "
                       "6 infeasible")
    drain.add_argument("--force", action="store_true", help="drain what fits even when the whole evacuation does "
                       "not (the rest stays, with its reasons)")
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
    _add_api_verbs(sub)
    return parser


def _add_api_verbs(sub: Any) -> None:
    """The verbs that only the control API can serve."""
    plan = sub.add_parser("plan", help="the plan the daemon works from: one line per move, its state and reason")
    plan.add_argument("--json", action="store_true", help="print the API's JSON")
    plan.set_defaults(func=cmd_plan)
    explain = sub.add_parser("explain", help="why a VM moves or stays in the daemon's plan, with pre-flight checks")
    explain.add_argument("vm")
    explain.add_argument("--json", action="store_true", help="print the API's JSON")
    explain.set_defaults(func=cmd_explain)
    pause = sub.add_parser("pause", help="start no new migration until 'resume' (kept across restarts)")
    pause.add_argument("--abort-running", action="store_true", help="also abort the running migrations")
    pause.set_defaults(func=cmd_pause)
    resume = sub.add_parser("resume", help="undo 'pause' (a pause file still pauses)")
    resume.set_defaults(func=cmd_resume)
    approve = sub.add_parser("approve", help="mode recommend: execute recorded plan PLAN_ID after re-validating it")
    approve.add_argument("plan_id", type=int, metavar="PLAN_ID")
    approve.set_defaults(func=cmd_approve)
    for verb in (pause, resume, approve):
        verb.add_argument("--json", action="store_true", help="print the API's JSON")
    release.add_verb(sub)


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
    except NotListeningError as exc:
        print(f"balancerctl: balancerd is not running ({exc}); nothing was done", file=sys.stderr)
        return EXIT_NOT_RUNNING
    except RefusedError as exc:
        print(f"balancerctl: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN_HOST if exc.status == 404 and args.command in _HOST_VERBS else EXIT_REFUSED
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


def client(args: argparse.Namespace, config: Config, read_timeout_s: float | None = None) -> ControlClient:
    """The control API client for ``--socket``, else the config's ``[control] socket``."""
    path = args.socket or config.control.socket
    return ControlClient(path) if read_timeout_s is None else ControlClient(path, read_timeout_s)


def cmd_maintenance(args: argparse.Namespace, config: Config) -> int:
    back = args.restore and args.action == "exit"
    if args.restore and not back:
        print("balancerctl: --restore goes with 'maintenance exit'", file=sys.stderr)
        return 1
    changed = _maintenance_via_api(args, config, args.action == "enter", restore=back)
    via_file = changed is None
    if changed is None:
        changed = _edit_maintenance(args.host, args.action, config)
        if back:
            restore.restore_offline(config, args.host, args.clock.now())
    if args.action == "exit" and args.host in config.fixed_maintenance:
        print(f"{args.host} stays in maintenance: the described cluster {config.sim.cluster} marks it "
              "'maintenance = true'; change the file to take it out", file=sys.stderr)
        return 1
    verb = "enters" if args.action == "enter" else "leaves"
    print(f"{args.host} {verb} maintenance" + ("" if changed else " (no change: already so)"))
    return _signal_daemon(config) if via_file else 0


def _maintenance_via_api(args: argparse.Namespace, config: Config, enter: bool, force: bool = False,
                         restore: bool = False) -> bool | None:
    """Whether the daemon changed its maintenance set through the API; None when nothing listens."""
    try:
        answer = client(args, config).maintenance(args.host, enter, force, restore)
    except NotListeningError:
        return None
    if restore:
        print(f"{args.host}: " + ("its drained VMs come back" if answer.get("restore") else
                                  "nothing recorded as drained off it: nothing to bring back"), file=sys.stderr)
    return bool(answer.get("changed", True))


def _edit_maintenance(host: str, action: str, config: Config, force: bool = False) -> bool:
    known = known_hosts(config)
    if host not in known:
        raise UnknownHostError(host, known)
    path = config.paths.maintenance_file
    return maintenance.enter(path, host, force) if action == "enter" else maintenance.leave(path, host)


def cmd_drain(args: argparse.Namespace, config: Config) -> int:
    if args.check:
        return draincheck.cmd_check(args, config)
    changed = _maintenance_via_api(args, config, True, args.force)
    via_file = changed is None
    if changed is None:
        changed = _edit_maintenance(args.host, "enter", config, args.force)
    forced = " (forced: what fits leaves, the rest stays)" if args.force else ""
    if args.json:
        print(json.dumps({"event": "maintenance", "host": args.host, "changed": changed, "forced": args.force}),
              flush=True)
    else:
        print(f"{args.host} enters maintenance{forced}" + ("" if changed else " (no change: already so)"),
              flush=True)
    code = _signal_daemon(config) if via_file else 0
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
    """Exit 0 when the daemon runs and its last cycle succeeded; 3 when it does not run (the status is stale);
    7 when it runs but its last cycle failed."""
    document = _status_document(args, config)
    print(json.dumps(document, indent=2) if args.json else status_text(document))
    if not document.get("running"):
        return EXIT_NOT_RUNNING
    return EXIT_CYCLE_FAILED if document.get("last_cycle_ok") is False else 0


def _status_document(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """The daemon's status from the API when it answers, else from its status file."""
    try:
        document = client(args, config, STATUS_TIMEOUT_S).status()
        document["running"] = True
        return document
    except NotListeningError:
        pass
    except ApiClientError as exc:
        print(f"balancerctl: the control API failed ({exc}); showing the status file", file=sys.stderr)
    document = status.read(config.paths.status_file)
    document["running"] = pidfile.running_pid(config.paths.pid_file) is not None
    return document


def cmd_plan(args: argparse.Namespace, config: Config) -> int:
    document = client(args, config).plan()
    print(json.dumps(document, indent=2) if args.json else views.plan_text(document))
    return 0


def cmd_explain(args: argparse.Namespace, config: Config) -> int:
    document = client(args, config).explain(args.vm)
    print(json.dumps(document, indent=2) if args.json else views.explain_text(document))
    return 0


def cmd_pause(args: argparse.Namespace, config: Config) -> int:
    """Exit 0 once paused; 4 when an aborted VM was not verified running on its source only."""
    answer = client(args, config).pause(args.abort_running)
    print(json.dumps(answer, indent=2) if args.json else views.pause_text(answer))
    return EXIT_FAILED if any(not a.get("verified") for a in answer.get("aborted", [])) else 0


def cmd_resume(args: argparse.Namespace, config: Config) -> int:
    answer = client(args, config).resume()
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(views.resume_text(answer), file=sys.stderr if answer.get("paused") else sys.stdout)
    return 0


def cmd_approve(args: argparse.Namespace, config: Config) -> int:
    answer = client(args, config).approve(args.plan_id)
    print(json.dumps(answer, indent=2) if args.json else views.approve_text(answer))
    return 0


def _when(doc: dict[str, Any], key: str = "updated_at") -> str:
    at = doc.get(key)
    if not isinstance(at, int | float):
        return "an unknown time"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _failure_lines(doc: dict[str, Any]) -> list[str]:
    if doc.get("last_cycle_ok") is not False:
        return []
    good = doc.get("last_good_cycle_at")
    age = f" ({time.time() - good:.0f} s ago)" if isinstance(good, int | float) else ""
    return [f"LAST CYCLE FAILED at {_when(doc, 'last_error_at')}: {doc.get('last_error')}",
            f"figures below are from the last good cycle, {_when(doc, 'last_good_cycle_at')}{age}"]


def status_text(doc: dict[str, Any]) -> str:
    """A table of hosts, then what is in flight, blocked or failing on drained hosts."""
    state = f"running (pid {doc.get('pid')})" if doc.get("running") else f"not running (stale status from {_when(doc)})"
    plan = doc.get("plan", {})
    imbalance = doc.get("imbalance")
    paused = f", PAUSED: {doc.get('paused_reason') or 'paused'}" if doc.get("paused") else ""
    lines = [f"balancerd {state}, mode {doc.get('mode', '?')}, cycle {doc.get('cycle', 0)}, imbalance "
             f"{'-' if imbalance is None else format(imbalance, '.3f')}, last plan {plan.get('moves', 0)} moves"
             f"{paused}",
             *_failure_lines(doc), *views.ha_lines(doc),
             f"{'HOST':<16}{'STATE':<13}{'VMS':>5}{'VM GiB':>8}{'CPU':>6}{'MEM':>6}  DRAIN"]
    lines += [_host_row(h, doc) for h in doc.get("hosts", [])]
    lines += [f"in flight: {f['vm']} {f['source']} -> {f['dest']}" for f in doc.get("in_flight", [])]
    lines += views.held_lines(doc)
    lines += [f"INFEASIBLE: {finding}" for finding in doc.get("infeasible", [])]
    lines += views.restore_lines(doc)
    lines += views.limit_lines(doc)
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
