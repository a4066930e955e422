"""``balancerd journal recover``: start a new journal when the old one is damaged, nothing lost on the hosts.

Called by the ``journal recover`` sub-command (:mod:`balancerd.cli`) while the daemon is stopped; the daemon's
refusal to open a damaged journal names this command. It moves the damaged file (with its ``-wal`` and
``-shm`` companions) aside under a timestamped name, creates an empty journal, and settles what libvirt
reports the way :mod:`balancerd.reconcile` settles an interrupted migration: every VM it finds is inspected on
every host; a sole copy left paused is resumed, a stale inactive copy beside a running one is removed, and a
VM active on two hosts is reported for the operator (never touched). What it did is recorded in the new
journal's operator actions.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from balancerd.backends.base import DomainState, Hypervisor
from balancerd.errors import BackendError, StateError
from balancerd.journal import Journal
from balancerd.reconcile import repair
from balancerd.service import pidfile


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a recovery did: where the damaged files went, what was repaired, what needs a person."""

    moved: tuple[str, ...]
    repaired: tuple[str, ...]
    attention: tuple[str, ...]
    vms: int


def check_damaged(path: Path) -> str | None:
    """Why the journal at ``path`` cannot be used (None when it opens and passes SQLite's integrity check)."""
    try:
        journal = Journal(path)
    except StateError as exc:
        return str(exc)
    try:
        problem = journal.integrity_problem()
    finally:
        journal.close()
    return problem


def move_aside(path: Path, now: dt.datetime) -> tuple[str, ...]:
    """Rename the journal and its WAL files to ``NAME.damaged-YYYYmmddTHHMMSSZ[-wal|-shm]``."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            target = path.with_name(f"{path.name}.damaged-{stamp}{suffix}")
            try:
                os.replace(source, target)
            except OSError as exc:
                raise StateError(f"cannot move {source} aside to {target}: {exc.strerror or exc}") from exc
            moved.append(str(target))
    return tuple(moved)


def settle_hosts(backend: Hypervisor) -> tuple[list[str], list[str], int]:
    """Inspect every VM any host reports; (repairs, things for the operator, VMs seen)."""
    names: set[str] = set()
    attention: list[str] = []
    for host in backend.host_names():
        try:
            names.update(row.name for row in backend.domain_stats(host))
        except BackendError as exc:
            attention.append(f"host {host} not inspected: {exc}; run recover again once it answers")
    repaired: list[str] = []
    for vm in sorted(names):
        try:
            copies = backend.inspect(vm)
            active = [c.host for c in copies if c.state in (DomainState.RUNNING, DomainState.PAUSED)]
            if len(active) > 1:
                attention.append(f"{vm} is active on {', '.join(active)}: operator must check")
                continue
            repaired += [f"{vm}: {action}" for action in repair(vm, copies, backend)]
        except BackendError as exc:
            attention.append(f"{vm} not inspected: {exc}")
    return repaired, attention, len(names)


def recover(journal_path: Path, pid_file: Path, backend: Hypervisor, now: dt.datetime, at: float,
            force: bool = False) -> Recovery:
    """The whole recovery (see the module docstring); refuses while a daemon runs or a healthy journal."""
    running = pidfile.running_pid(pid_file)
    if running is not None:
        raise StateError(f"balancerd runs with pid {running}; stop it before recovering its journal")
    problem = check_damaged(journal_path) if journal_path.exists() else "no journal"
    if problem is None and not force:
        raise StateError(f"journal {journal_path} is healthy; nothing to recover (--force starts a new one anyway)")
    moved = move_aside(journal_path, now)
    repaired, attention, vms = settle_hosts(backend)
    journal = Journal(journal_path)
    try:
        journal.record_action(at, f"uid {os.getuid()}", "journal recover",
                              f"moved aside: {', '.join(moved) or 'nothing'}; {len(repaired)} repairs; "
                              f"{len(attention)} for the operator")
    finally:
        journal.close()
    return Recovery(moved, tuple(repaired), tuple(attention), vms)
