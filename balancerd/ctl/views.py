"""What ``balancerctl`` prints for the control API's answers: plan, explain, drain check, pause, resume,
approve, release.

Called by :mod:`balancerd.ctl.cli` when ``--json`` is not given (with ``--json`` it prints the API's JSON as
it came). Pure functions from the answer documents of :mod:`balancerd.api.routes` to text; a key the daemon
does not send is left out rather than failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def plan_text(doc: dict[str, Any]) -> str:
    """A header with plan_id and snapshot_seq, one line per move, then the VMs the planner skipped."""
    moves = doc.get("moves", [])
    skipped = doc.get("skipped", [])
    about = ", ".join(str(v) for v in (doc.get("origin") or doc.get("mode"), doc.get("strategy")) if v)
    executing = ", executing" if doc.get("executing") else ""
    lines = [f"plan {doc.get('plan_id')} (snapshot {doc.get('snapshot_seq')}{', ' + about if about else ''}"
             f"{executing}): {len(moves)} moves, {len(skipped)} skipped"]
    lines += table([[m.get("vm", "?"), f"{m.get('source', '?')} -> {m.get('dest', '?')}", m.get("kind", ""),
                     m.get("state", ""), _with_detail(m.get("reason", ""), m.get("detail"))] for m in moves])
    lines += [f"skipped {s.get('vm')}: {'; '.join(s.get('reasons', []))}" for s in skipped]
    return "\n".join(lines)


def explain_text(doc: dict[str, Any]) -> str:
    """The planner's reasons for one VM, its remembered failures, then the pre-flight checks of its planned moves."""
    lines = [f"{doc.get('vm')} in plan {doc.get('plan_id')} (snapshot {doc.get('snapshot_seq')}):"]
    lines += [f"  {reason}" for reason in doc.get("reasons", [])]
    lines += [f"failed towards {f.get('dest')} x{f.get('count')} (remembered until released or it moves there): "
              f"{f.get('last_error', '')}".rstrip() for f in doc.get("failures", [])]
    for check in doc.get("preflight", []):
        lines += _preflight_lines(check)
    return "\n".join(lines)


def _preflight_lines(check: dict[str, Any]) -> list[str]:
    head = f"pre-flight of {check.get('vm')} -> {check.get('dest')}: "
    if check.get("error"):
        return [head + f"error: {check['error']}"]
    skip = check.get("skip_reason")
    lines = [head + (f"would be skipped: {skip}" if skip else "would start")]
    return lines + [f"  {'ok' if c.get('ok') else 'FAIL':<5}{c.get('name')}: {c.get('detail', '')}".rstrip()
                    for c in check.get("checks", [])]


def drain_check_text(doc: dict[str, Any]) -> str:
    """The verdict with its estimate, the moves in order, then every blocker with its reason."""
    host, moves, blockers = doc.get("host"), doc.get("moves", []), doc.get("blockers", [])
    after = f" (after {', '.join(doc['after'])}, already in maintenance)" if doc.get("after") else ""
    if doc.get("feasible"):
        head = (f"drain of {host} is feasible{after}: {len(moves)} moves, about {_duration(doc.get('estimated_s'))}")
    else:
        head = (f"drain of {host} is NOT feasible{after}: {len(blockers)} VM(s) with nowhere to go; "
                f"{len(moves)} of its moves fit")
    lines = [head + _source(doc)]
    lines += table([[m.get("vm", "?"), f"-> {m.get('dest', '?')}", m.get("kind", ""),
                     f"{m.get('seconds', 0):.0f} s"] for m in moves])
    lines += [f"blocked {b.get('vm')}: {b.get('reason', '')}" for b in blockers]
    if blockers:
        lines.append(f"'balancerctl drain --force {host}' would drain what fits and leave these")
    return "\n".join(lines)


def _duration(seconds: object) -> str:
    value = float(seconds) if isinstance(seconds, int | float) else 0.0
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _source(doc: dict[str, Any]) -> str:
    if doc.get("source") == "daemon":
        return f" (daemon's snapshot {doc.get('snapshot_seq')})"
    return " (computed here from a fresh collection: no daemon running)"


def pause_text(doc: dict[str, Any]) -> str:
    """Who paused, and where each aborted VM ended up."""
    lines = [f"paused by {doc.get('by', '?')}: no new migration starts"]
    lines += [_aborted_line(a) for a in doc.get("aborted", [])]
    return "\n".join(lines)


def _aborted_line(aborted: dict[str, Any]) -> str:
    vm, source = aborted.get("vm"), aborted.get("source")
    if aborted.get("verified"):
        return f"aborted {vm}: running on {source} only"
    where = ", ".join(f"{w.get('host')} {w.get('state')}" for w in aborted.get("where", []))
    return f"aborted {vm}: NOT verified on {source}: {aborted.get('detail') or where or 'nowhere found'}"


def resume_text(doc: dict[str, Any]) -> str:
    """Resumed, or what still holds the daemon paused (a pause file)."""
    return f"still paused: {doc.get('reason')}" if doc.get("paused") else "resumed: migrations may start again"


def approve_text(doc: dict[str, Any]) -> str:
    """The moves handed to the executor and the ones skipped on re-validation."""
    accepted = doc.get("accepted", [])
    skipped = doc.get("skipped", [])
    lines = [f"plan {doc.get('plan_id')} approved: {len(accepted)} moves to execute, {len(skipped)} skipped"]
    lines += table([[m.get("vm", "?"), f"{m.get('source', '?')} -> {m.get('dest', '?')}", m.get("kind", ""),
                     m.get("reason", "")] for m in accepted])
    lines += [f"skipped {s.get('vm')}: {s.get('reason')}" for s in skipped]
    return "\n".join(lines)


def release_text(doc: dict[str, Any]) -> str:
    """Which failure records of the VM were cleared, and whether the daemon or the journal file did it."""
    vm = doc.get("vm")
    cleared = doc.get("cleared", [])
    if not cleared:
        return f"{vm}: nothing to release (no failed moves remembered)"
    where = " in the journal file (balancerd is not running)" if doc.get("offline") else ""
    lines = [f"released {vm}: {len(cleared)} failure record(s) cleared{where}; it may move again"]
    lines += [f"  {r.get('dest')}: {r.get('count')} failure(s), last: {r.get('last_error', '')}".rstrip()
              for r in cleared]
    return "\n".join(lines)


def held_lines(doc: dict[str, Any]) -> list[str]:
    """The status lines of VMs held by the failure memory, then of the pairs still backing off."""
    held = doc.get("held", [])
    lines = [f"HELD {h.get('vm')}: {'; '.join(h.get('reasons', []))} (balancerctl release {h.get('vm')})"
             for h in held]
    names = {h.get("vm") for h in held}
    lines += [f"failed moves: {f.get('vm')} -> {f.get('dest')} x{f.get('count')}: {f.get('last_error', '')}"
              .rstrip() for f in doc.get("failures", []) if f.get("vm") not in names][:5]
    return lines


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """``rows`` as lines with columns padded to their widest cell (the last column unpadded)."""
    if not rows:
        return []
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    return [(indent + "  ".join([*(str(c).ljust(w) for c, w in zip(row, widths, strict=False)),
                                 str(row[-1])])).rstrip() for row in rows]


def _with_detail(reason: str, detail: object) -> str:
    return f"{reason} ({detail})" if detail else reason


def restore_lines(doc: dict[str, Any]) -> list[str]:
    """A line per move-back after maintenance: VMs back, moving, waiting, and those not returning."""
    lines = []
    for r in doc.get("restores", []):
        total = len(r["back"]) + len(r["moving"]) + len(r["pending"]) + len(r["not_returning"])
        state = f"waiting: {r['host_problem']}" if r.get("host_problem") else \
            f"{len(r['back'])}/{total} back, {len(r['moving'])} moving, {len(r['pending'])} waiting"
        lines.append(f"restore to {r['host']}: {state}")
        lines += [f"  not returning: {n['vm']}: {n['reason']}" for n in r["not_returning"][:10]]
    return lines


def limit_lines(doc: dict[str, Any]) -> list[str]:
    """Why moves wait (blackout window, back-off), the VMs at their daily cap, external moves of the last cycle."""
    limits = doc.get("limits", {})
    lines = [f"WAITING: {why}" for why in limits.get("waiting", [])]
    capped = limits.get("capped", [])
    if capped:
        names = ", ".join(f"{c['vm']} ({c['moves_24h']})" for c in capped[:10])
        lines.append(f"at the daily cap (moves in 24 h): {names}{' ...' if len(capped) > 10 else ''}")
    lines += [f"external move: {m['vm']} {m['source']} -> {m['dest']} (cooldown given)"
              for m in limits.get("external_moves", [])[:10]]
    return lines


def ha_lines(doc: dict[str, Any]) -> list[str]:
    """With ``[ha]``: this head's role and term, the leader, and etcd's trouble if any."""
    ha = doc.get("ha")
    if not ha:
        return []
    if ha.get("role") == "leader":
        line = f"head {ha.get('name')}: leader of term {ha.get('term')}"
    else:
        line = f"head {ha.get('name')}: follower (leader: {ha.get('leader') or 'none known'}, term {ha.get('term')})"
    return [line + (f"; {ha['error']}" if ha.get("error") else "")]
