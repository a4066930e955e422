"""`balancerd` command line: run | plan | journal recover | lab | bench | simulate | import.

Installed as the `balancerd` console script. Each sub-command sets ``func`` on its parser; :func:`main`
parses, calls it and turns a :class:`~balancerd.errors.ConfigError` into exit code 78 and any other
:class:`~balancerd.errors.BalancerdError` into exit code 1, with one message on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancerd import config as config_mod
from balancerd import drainproof
from balancerd.errors import BalancerdError, ConfigError
from balancerd.model import Evacuation, Plan
from balancerd.observability import logging as logsetup

if TYPE_CHECKING:
    from balancerd.service.oneshot import Preflight

EX_CONFIG = ConfigError.exit_code

OFFLINE_NOTE = "a fresh collection, no trained model, no in-flight moves (balancerctl plan asks the running daemon)"
"""What ``balancerd plan`` does not know that a running daemon does; said first in every form of its output."""


_PLUGINS = {
    "lab": ("balancerd.lab.cli", "a real multi-host libvirt + QEMU lab on this machine"),
    "bench": ("balancerd.bench.cli", "run a benchmark, print JSON"),
    "simulate": ("balancerd.simulate.cli", "replay recorded traces through the real pipeline"),
    "import": ("balancerd.importing.cli", "import a guest exported from VMware (VMX, OVA, OVF) or Hyper-V (VHD/X)"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; of the heavier sub-commands only the one named in ``argv`` is imported (all without argv)."""
    parser = argparse.ArgumentParser(prog="balancerd", description="Load-balancing daemon for libvirt/KVM clusters")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    run.set_defaults(func=cmd_run)
    plan = sub.add_parser("plan", help="offline dry-run of one cycle (balancerctl plan asks the running daemon)")
    plan.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--explain", metavar="VM", help="say why VM does or does not move")
    plan.set_defaults(func=cmd_plan)
    journal = sub.add_parser("journal", help="the journal of plans and migrations")
    jsub = journal.add_subparsers(dest="journal_command", required=True)
    recover = jsub.add_parser("recover", help="move a damaged journal aside, start a new one, settle what libvirt "
                              "reports (the daemon must be stopped)")
    recover.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    recover.add_argument("--force", action="store_true", help="start a new journal even if the old one is healthy")
    recover.add_argument("--json", action="store_true", help="machine-readable output")
    recover.set_defaults(func=cmd_journal_recover)
    wanted = next((arg for arg in argv or () if not arg.startswith("-")), None)
    for name, (module, help_text) in _PLUGINS.items():
        if wanted in (None, name):
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"balancerd: {exc}", file=sys.stderr)
        return EX_CONFIG
    except BalancerdError as exc:
        print(f"balancerd: {exc}", file=sys.stderr)
        return 1
    return code


def cmd_run(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    logsetup.configure(config.logging.level, config.logging.format)
    from balancerd.service.daemon import Daemon

    return Daemon(config).serve()


def cmd_journal_recover(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    logsetup.configure("warning", "console")
    import datetime as dt

    from balancerd.recovery import recover
    from balancerd.service.wiring import make_backend, make_clock

    clock = make_clock(config)
    backend = make_backend(config, clock)
    try:
        done = recover(config.paths.journal, config.paths.pid_file, backend, dt.datetime.now(dt.UTC), clock.now(),
                       args.force)
    finally:
        backend.close()
    if args.json:
        print(json.dumps({"moved": list(done.moved), "repaired": list(done.repaired),
                          "attention": list(done.attention), "vms": done.vms}, indent=2))
    else:
        print(f"journal {config.paths.journal}: started afresh; {done.vms} VMs inspected")
        print("\n".join([*(f"moved aside: {m}" for m in done.moved), *(f"repaired: {r}" for r in done.repaired),
                         *(f"CHECK: {a}" for a in done.attention)]))
    return 2 if done.attention else 0


def cmd_plan(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    logsetup.configure("warning", "console")
    from balancerd.service.oneshot import explain_once, propose_once

    if args.explain:
        _proposal, reasons, checked = explain_once(config, args.explain)
        _print_explain(args.explain, reasons, args.json, checked)
        return 0
    proposal, _forecast = propose_once(config)
    if args.json:
        print(json.dumps(offline_document(plan_document(proposal.plan, proposal.collected.errors)), indent=2))
    else:
        print(offline_text(plan_text(proposal.plan, proposal.collected.errors)))
    return 0


def offline_document(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` marked as computed offline: ``offline`` and ``note`` keys first."""
    return {"offline": True, "note": OFFLINE_NOTE, **doc}


def offline_text(text: str) -> str:
    """``text`` under a first line that says it was computed offline and what that leaves out."""
    return f"offline plan: {OFFLINE_NOTE}\n{text}"


def plan_document(plan: Plan, errors: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON form of a plan."""
    return {
        "snapshot": plan.snapshot_seq,
        "created_at": plan.created_at,
        "strategy": plan.strategy,
        "score_before": plan.score_before,
        "score_after": plan.score_after,
        "objective": plan.objective,
        "lower_bound": plan.lower_bound,
        "gap": plan.gap,
        "tradeoff": list(plan.tradeoff),
        "migration_mib": plan.migration_mib,
        "violations": list(plan.violations),
        "power_off": list(plan.power_off),
        "moves": [
            {"vm": m.vm, "source": m.source, "dest": m.dest, "kind": m.kind.value, "reason": m.reason,
             "gain": m.gain, "memory_mib": m.memory_mib}
            for m in plan.moves
        ],
        "skipped": [{"vm": s.vm, "reasons": list(s.reasons)} for s in plan.skipped],
        "held": [{"vm": s.vm, "reasons": list(s.reasons)} for s in plan.held],
        "drains": [drainproof.as_json(e) for e in plan.drains],
        "notes": list(plan.notes),
        "collection_errors": list(errors),
    }


def plan_text(plan: Plan, errors: Sequence[str] = ()) -> str:
    """The human form of a plan."""
    lines = [f"plan on snapshot {plan.snapshot_seq} ({plan.strategy}): {len(plan.moves)} moves, "
             f"score {plan.score_before:.4f} -> {plan.score_after:.4f}; objective {plan.objective:.4f}, "
             f"lower bound {plan.lower_bound:.4f}, gap {plan.gap:.4f}; {plan.migration_mib} MiB to migrate"]
    for i, m in enumerate(plan.moves, 1):
        lines.append(f"{i:3d}. {m.vm}: {m.source} -> {m.dest} [{m.kind.value}, {m.memory_mib} MiB, "
                     f"gain {m.gain:+.4f}] {m.reason}")
    lines += [f"  skipped {s.vm}: {'; '.join(s.reasons)}" for s in plan.skipped]
    lines += [f"  {_drain_line(e)}" for e in plan.drains]
    lines += [f"  note: {n}" for n in plan.notes]
    lines += [f"  rule still broken: {v}" for v in plan.violations]
    lines += [f"  could power off: {', '.join(plan.power_off)}"] if plan.power_off else []
    lines += [f"  collection error: {e}" for e in errors]
    return "\n".join(lines)


def _drain_line(proof: Evacuation) -> str:
    if proof.feasible:
        return (f"drain of {proof.host} proven: {len(proof.moves)} moves left, about {proof.estimated_s:.0f} s")
    verdict = "forced" if proof.forced else "REFUSED"
    return (f"drain of {proof.host} {verdict}: {len(proof.blockers)} VM(s) with nowhere to go "
            f"({', '.join(b.vm for b in proof.blockers[:5])}); see balancerctl drain --check {proof.host}")


def _print_explain(vm: str, reasons: Sequence[str], as_json: bool, checked: Sequence[Preflight] = ()) -> None:
    if as_json:
        doc = {"vm": vm, "reasons": list(reasons), "preflight": [preflight_document(p) for p in checked]}
        print(json.dumps(offline_document(doc), indent=2))
        return
    print(f"offline plan: {OFFLINE_NOTE}")
    print(f"{vm}:")
    for reason in reasons:
        print(f"  - {reason}")
    for line in (line for p in checked for line in preflight_text(p)):
        print(line)


def preflight_document(checked: Preflight) -> dict[str, Any]:
    """The JSON form of a planned move's pre-flight (``plan --explain VM --json``)."""
    move, decision = checked.move, checked.decision
    return {
        "source": move.source, "dest": move.dest, "planned_kind": move.kind.value,
        "kind": _preflight_kind(checked), "error": checked.error,
        "skip_reason": decision.skip_reason if decision else None,
        "deadline_s": decision.deadline_s if decision else None,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in decision.checks] if decision else [],
    }


def preflight_text(checked: Preflight) -> list[str]:
    """The human form of a planned move's pre-flight: a headline, then one line per check."""
    move, decision = checked.move, checked.decision
    head = f"  pre-flight of {move.source} -> {move.dest}: "
    if decision is None:
        return [head + (checked.error or "not run")]
    verdict = f"would start as {_preflight_kind(checked)}" if decision.request else "would be skipped"
    lines = [head + f"{verdict} (deadline {decision.deadline_s:.0f} s)"]
    lines += [f"    [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in decision.checks]
    return lines


def _preflight_kind(checked: Preflight) -> str | None:
    request = checked.decision.request if checked.decision else None
    return request.kind.value if request else None


if __name__ == "__main__":
    sys.exit(main())
