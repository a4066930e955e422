"""Reconciliation after a restart (ARCHITECTURE.md rule 12): the journal's open rows against what the hosts say.

The daemon calls :func:`reconcile` once at start, before its first cycle. For every migration a crash left
open it first looks for a later move of the same VM that ended (with ``[ha]``, another head's, copied into the
journal): where that one found the VM says whether this one moved it. Otherwise it asks the backend where the
VM is now, waits for a migration job still running, resumes a VM the interrupted migration left paused, removes
a stale duplicate definition, and closes the row with what it found. A new ``[ha]`` leader calls it too, before
its first plan of the term.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from balancerd.backends.base import DomainState, Placement
from balancerd.clock import Clock, SystemClock
from balancerd.errors import BackendError
from balancerd.journal import Journal, JournalEntry
from balancerd.model import Outcome


@runtime_checkable
class Inspector(Protocol):
    """What full reconciliation needs of a backend (``Hypervisor`` provides it)."""

    def inspect(self, vm: str) -> tuple[Placement, ...]: ...

    def resume(self, vm: str, host: str) -> None: ...

    def undefine(self, vm: str, host: str) -> None: ...


JOB_WAIT_S = 120.0
JOB_POLL_S = 1.0


def reconcile(journal: Journal, locate: Callable[[str], tuple[str, ...]] | Inspector, at: float,
              clock: Clock | None = None) -> tuple[str, ...]:
    """Close every row a crash left open by where its VM is now; return what was done, in words.

    With only ``locate`` the rows are closed by where the VM is defined. With a backend that can
    :class:`Inspector` (or a bound ``backend.locate`` of one), reconciliation also makes each VM defined once
    and running: it waits (up to :data:`JOB_WAIT_S` on ``clock``) for a migration job libvirt still runs,
    resumes a VM left paused on the host that holds it and removes a stale inactive copy beside a running
    one. A VM that cannot be read now (backend error) keeps its row open for the next start.
    """
    inspector = locate if isinstance(locate, Inspector) else getattr(locate, "__self__", None)
    clock = clock if clock is not None else SystemClock()
    messages: list[str] = []
    for entry in journal.unfinished():
        later = _later(journal, entry)
        outcome: Outcome | None
        if later is not None:
            outcome, detail = later
        elif isinstance(inspector, Inspector):
            outcome, detail = _settle(entry, inspector, clock)
        else:
            assert callable(locate)
            outcome, detail = _located(entry, locate)
        if outcome is None:
            messages.append(f"{_describe(entry)}: {detail}; left open")
            continue
        journal.close_unfinished(entry.id, outcome, detail, at)
        messages.append(f"{_describe(entry)}: {outcome.value}: {detail}")
    return tuple(messages)


def _later(journal: Journal, entry: JournalEntry) -> tuple[Outcome, str] | None:
    """The verdict a later, ended move of the same VM gives (another head's, copied in with ``[ha]``): it left
    from this move's source, so this one never moved it; or from its destination, so this one did. None when
    there is no such move (then where the VM is now decides)."""
    after = [e for e in journal.recent_moves(entry.started_at)
             if e.vm == entry.vm and e.id != entry.id and e.started_at > entry.started_at]
    for move in sorted(after, key=lambda e: e.started_at)[:1]:
        who = f"{move.head}'s" if move.head else "a later"
        if move.source == entry.source:
            return Outcome.ABORTED, f"not moved: {who} move #{move.id} later found it still on {entry.source}"
        if move.source == entry.dest:
            return Outcome.SUCCEEDED, f"{who} move #{move.id} later found it on {entry.dest}"
    return None


def _located(entry: JournalEntry, locate: Callable[[str], tuple[str, ...]]) -> tuple[Outcome | None, str]:
    try:
        hosts = tuple(locate(entry.vm))
    except BackendError as exc:
        return None, f"cannot locate the VM ({exc})"
    return _verdict(entry, hosts)


def _settle(entry: JournalEntry, backend: Inspector, clock: Clock) -> tuple[Outcome | None, str]:
    """Inspect, wait for a job still running, resume / remove duplicates, then judge by where it runs."""
    try:
        copies = _wait_for_jobs(entry.vm, backend, clock)
        if any(copy.job_active for copy in copies):
            return None, "a migration job is still running in libvirt"
        actions = repair(entry.vm, copies, backend)
        copies = backend.inspect(entry.vm)
    except BackendError as exc:
        return None, f"cannot inspect the VM ({exc})"
    active = [c.host for c in copies if c.state in (DomainState.RUNNING, DomainState.PAUSED)]
    outcome, detail = _verdict(entry, tuple(active) if active else tuple(c.host for c in copies))
    return outcome, "; ".join([detail, *actions])


def _wait_for_jobs(vm: str, backend: Inspector, clock: Clock) -> tuple[Placement, ...]:
    copies = backend.inspect(vm)
    deadline = clock.now() + JOB_WAIT_S
    while any(copy.job_active for copy in copies) and clock.now() < deadline:
        clock.sleep(JOB_POLL_S)
        copies = backend.inspect(vm)
    return copies


def repair(vm: str, copies: tuple[Placement, ...], backend: Inspector) -> list[str]:
    """Resume a paused sole copy; undefine inactive copies beside one persistent active copy."""
    active = [c for c in copies if c.state in (DomainState.RUNNING, DomainState.PAUSED)]
    if len(active) != 1:
        return []
    (live,) = active
    actions = []
    if live.state is DomainState.PAUSED:
        backend.resume(vm, live.host)
        actions.append(f"resumed the paused VM on {live.host}")
    if live.persistent:
        for stale in (c for c in copies if c.state is DomainState.SHUTOFF):
            backend.undefine(vm, stale.host)
            actions.append(f"removed the stale inactive copy on {stale.host}")
    return actions


def _verdict(entry: JournalEntry, hosts: tuple[str, ...]) -> tuple[Outcome, str]:
    """What a VM found on ``hosts`` means for an interrupted move of ``entry``."""
    found = set(hosts)
    if {entry.source, entry.dest} <= found:
        return Outcome.FAILED, "defined on both hosts: operator must check"
    if found == {entry.dest}:
        return Outcome.SUCCEEDED, "reconciled after restart: found on dest"
    if found == {entry.source}:
        return Outcome.ABORTED, "reconciled after restart: still on source"
    if not found:
        return Outcome.FAILED, "reconciled after restart: not found on any host"
    return Outcome.FAILED, f"found on {', '.join(sorted(found))}, neither only source nor dest: operator must check"


def _describe(entry: JournalEntry) -> str:
    return f"interrupted move #{entry.id} of {entry.vm} {entry.source} -> {entry.dest}"
