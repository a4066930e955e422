"""The move-back record: which VMs a drain took off each host, and the open requests to bring them back.

:class:`balancerd.journal.Journal` owns the SQLite connection and calls these functions inside its own
transactions: :func:`settle` from ``migration_ended`` (a drain that succeeded records its VM against the host
it left and where it went), :func:`request` when a host leaves maintenance
with a restore (``[maintenance] restore = true``, or ``balancerctl maintenance exit HOST --restore``),
:func:`requests` for what ``CycleRunner.propose`` hands to ``optimize.plan`` and :func:`finish` once a plan says
a restore is finished. The rows live in the journal (tables ``drained`` and ``restores``) so that a restart
loses neither. Drains and restores are told by the reason the planner gives their moves
(:data:`DRAIN_REASON`).
"""

from __future__ import annotations

import sqlite3

from balancerd.model import Move, MoveResult, Outcome, Restore

DRAIN_REASON = "drain: "
"""How the reason of a drain move starts (``optimize.drain``)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS drained (
    host TEXT NOT NULL,
    vm TEXT NOT NULL,
    placed TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (host, vm)
);
CREATE TABLE IF NOT EXISTS restores (
    host TEXT PRIMARY KEY,
    requested_at REAL NOT NULL
);
"""
"""Created by the journal beside its other tables; an older journal file gains them when it is opened."""


def settle(conn: sqlite3.Connection, move: Move, result: MoveResult) -> None:
    """Record a drain that succeeded (VM, the host it left, where it went), once per VM: a VM drained again
    counts against the host it left last. A VM that went back keeps its row (the restore counts it as back)
    until the restore is finished."""
    if result.outcome is Outcome.SUCCEEDED and move.reason.startswith(DRAIN_REASON):
        conn.execute("DELETE FROM drained WHERE vm = ?", (move.vm,))
        conn.execute("INSERT INTO drained (host, vm, placed, at) VALUES (?, ?, ?, ?)",
                     (move.source, move.vm, move.dest, result.finished_at))


def request(conn: sqlite3.Connection, host: str, at: float) -> bool:
    """Open a restore to ``host``; False when nothing was drained off it (no request is kept then)."""
    drained = conn.execute("SELECT COUNT(*) FROM drained WHERE host = ?", (host,)).fetchone()[0]
    if not drained:
        return False
    conn.execute("INSERT OR REPLACE INTO restores (host, requested_at) VALUES (?, ?)", (host, at))
    return True


def requests(conn: sqlite3.Connection) -> tuple[Restore, ...]:
    """Every open restore, oldest request first, with its VMs and where their drains put them."""
    hosts = [row[0] for row in conn.execute("SELECT host FROM restores ORDER BY requested_at, host")]
    return tuple(Restore(host, tuple((vm, placed) for vm, placed in conn.execute(
        "SELECT vm, placed FROM drained WHERE host = ? ORDER BY vm", (host,)))) for host in hosts)


def finish(conn: sqlite3.Connection, host: str) -> None:
    """Close the restore to ``host`` and forget what was drained off it (the VMs not back stay where they are)."""
    conn.execute("DELETE FROM restores WHERE host = ?", (host,))
    conn.execute("DELETE FROM drained WHERE host = ?", (host,))


def cancel(conn: sqlite3.Connection, host: str) -> None:
    """Close the restore to ``host`` (it entered maintenance again); its drained record stays."""
    conn.execute("DELETE FROM restores WHERE host = ?", (host,))
