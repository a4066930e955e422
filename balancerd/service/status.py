"""The status file: what the daemon last saw and is doing, for ``balancerctl status``.

The daemon writes it atomically after every cycle and on every migration event; ``balancerctl`` reads it
(``status`` prints it, ``drain --wait`` follows ``drains`` to draw its progress bar and to tell a finished drain
from a failed or stalled one). JSON, so operators and scripts can read it too.

``drains`` has one entry per host in maintenance: VMs and memory still on it (VMs whose migration away
succeeded since the snapshot no longer count), what it held when the drain began (``vms_at_start``,
``mem_mib_at_start``, ``started_at``, from :mod:`balancerd.service.drainbook`), moves planned and running away
from it, VMs the planner could not place (with the reasons) and recent failed or aborted migrations from it,
and the drain proof (``proof``: ``feasible``, ``forced``, ``moves_left``, ``estimated_s``, ``blockers`` with
their reasons; :func:`balancerd.drainproof.summary`): a refused drain moves nothing until its evacuation fits.
``paused`` (with ``paused_by``, ``paused_at``) says whether new migrations are held back. ``held`` lists the
VMs the last plan held because every candidate host failed ``[policy] max_failures`` times (with the reasons;
``balancerctl release VM`` frees one); ``infeasible`` what the last plan found no placement fixes (demand
above capacity, a host no move relieves, with the amounts); ``restores`` where each move-back after maintenance
stands (:func:`restore_json`); ``failures`` is the failure memory (the daemon adds it with
:func:`failure_memory`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from balancerd import drainproof, failmemory
from balancerd.errors import BalancerdError, StateError
from balancerd.journal import Journal, JournalEntry
from balancerd.model import CycleReport, InFlight, Outcome, RestoreProgress, Vm
from balancerd.service.drainbook import DrainStart

_FAILED = frozenset({Outcome.FAILED, Outcome.ABORTED})
FAILURE_WINDOW_S = 3600.0
"""How far back the status looks for failed moves off hosts in maintenance."""
log = structlog.get_logger("balancerd.status")


def render(report: CycleReport, in_flight: tuple[InFlight, ...], pid: int, metrics_port: int | None,
           maintenance: frozenset[str], moved_off: frozenset[str] = frozenset(),
           failures: Sequence[JournalEntry] = (), starts: Mapping[str, DrainStart] | None = None,
           extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The status document for ``report``; ``moved_off``: VMs that left their snapshot host since.

    ``starts``: drain starting points per host; ``extra``: more top-level keys (the daemon's pause).
    """
    util = {u.host: u for u in report.utilisation}
    hosts = [
        {
            "name": h.name,
            "reachable": h.reachable,
            "maintenance": h.name in maintenance,
            "vms": len(report.snapshot.vms_on(h.name)),
            "vms_mem_mib": sum(v.size.mem_mib for v in report.snapshot.vms_on(h.name)),
            "cpu_util": round(util[h.name].cpu, 4) if h.name in util else None,
            "memory_util": round(util[h.name].memory, 4) if h.name in util else None,
            "capacity_cpu_m": h.capacity.cpu_m,
            "capacity_mem_mib": h.capacity.mem_mib,
        }
        for h in report.snapshot.hosts
    ]
    return {
        "pid": pid,
        "metrics_port": metrics_port,
        "cycle": report.cycle,
        "mode": report.mode,
        "updated_at": report.started_at,
        "imbalance": round(report.imbalance, 4),
        "hosts": hosts,
        "maintenance": sorted(maintenance),
        "drain_remaining": dict(report.drain_remaining),
        "drains": drains(report, in_flight, maintenance, moved_off, failures, starts or {}),
        "in_flight": [{"vm": f.vm, "source": f.source, "dest": f.dest} for f in in_flight],
        "plan": {"moves": len(report.plan.moves), "skipped": len(report.plan.skipped)},
        "errors": list(report.errors),
        "held": [{"vm": s.vm, "reasons": list(s.reasons)} for s in report.plan.held],
        "infeasible": list(report.plan.infeasible),
        "restores": [restore_json(r) for r in report.plan.restores],
        "limits": {"waiting": list(report.waiting),
                   "capped": [{"vm": vm, "moves_24h": moves} for vm, moves in report.capped],
                   "external_moves": [{"vm": m.vm, "source": m.source, "dest": m.dest, "seen_at": m.seen_at}
                                      for m in report.external_moves]},
        "paused": False,
        **(extra or {}),
    }


def restore_json(progress: RestoreProgress) -> dict[str, Any]:
    """One restore's progress: VMs back, moving back, waiting for budget, not returning (with why)."""
    return {"host": progress.host, "back": list(progress.back), "moving": list(progress.moving),
            "pending": list(progress.pending), "finished": progress.finished, "host_problem": progress.host_problem,
            "not_returning": [{"vm": vm, "reason": why} for vm, why in (*progress.gone, *progress.blocked)]}


def drains(report: CycleReport, in_flight: tuple[InFlight, ...], maintenance: frozenset[str],
           moved_off: frozenset[str], failures: Sequence[JournalEntry],
           starts: Mapping[str, DrainStart] | None = None) -> dict[str, dict[str, Any]]:
    """Drain progress per host in maintenance (see the module docstring)."""
    snap = report.snapshot
    known = starts or {}
    proofs = {e.host: drainproof.summary(e) for e in report.plan.drains}
    return {h.name: {**_drain(h.name, h.reachable, report, snap.vms_on(h.name), in_flight, moved_off, failures),
                     **_start(known.get(h.name)), **({"proof": proofs[h.name]} if h.name in proofs else {})}
            for h in snap.hosts if h.name in maintenance}


def _start(start: DrainStart | None) -> dict[str, Any]:
    if start is None:
        return {}
    return {"started_at": start.at, "vms_at_start": start.vms, "mem_mib_at_start": start.mem_mib}


def _drain(name: str, reachable: bool, report: CycleReport, on_host: tuple[Vm, ...],
           in_flight: tuple[InFlight, ...], moved_off: frozenset[str],
           failures: Sequence[JournalEntry]) -> dict[str, Any]:
    left = [v for v in on_host if v.name not in moved_off]
    names = {v.name for v in left}
    return {
        "vms": len(left),
        "mem_mib": sum(v.size.mem_mib for v in left),
        "reachable": reachable,
        "planned": sum(1 for m in report.plan.moves if m.source == name and m.vm in names),
        "in_flight": sum(1 for f in in_flight if f.source == name),
        "blocked": [{"vm": s.vm, "reasons": list(s.reasons)} for s in report.plan.skipped if s.vm in names],
        "failures": [_failure(e) for e in failures if e.source == name and e.outcome in _FAILED],
    }


def _failure(entry: JournalEntry) -> dict[str, Any]:
    outcome = entry.outcome.value if entry.outcome is not None else None
    return {"vm": entry.vm, "dest": entry.dest, "outcome": outcome, "detail": entry.detail,
            "finished_at": entry.finished_at}


def failure_memory(journal: Journal) -> list[dict[str, Any]]:
    """The ``failures`` key: the journal's failure memory (empty, logged, when the journal cannot be read)."""
    try:
        return [failmemory.as_json(r) for r in journal.failures()]
    except BalancerdError as exc:
        log.error("journal not readable for the status", error=str(exc))
        return []


def write(path: Path, document: Mapping[str, Any]) -> None:
    """Replace the status file atomically."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".status.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(f"cannot write status file {path}: {exc}") from exc


def read(path: Path) -> dict[str, Any]:
    """The last status the daemon wrote; StateError if there is none."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StateError(f"no status file at {path}: is balancerd running with this config?") from exc
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read status file {path}: {exc}") from exc
    return document


def drain_failures(journal: Journal, hosts: frozenset[str], now: float) -> tuple[JournalEntry, ...]:
    """Failed or aborted migrations away from ``hosts`` in the last hour (clock time): the drains' failures."""
    if not hosts:
        return ()
    try:
        recent = journal.recent_moves(now - FAILURE_WINDOW_S)
    except BalancerdError as exc:
        log.error("journal not readable for the status", error=str(exc))
        return ()
    return tuple(e for e in recent if e.source in hosts)
