"""The record of external moves in the journal: VMs another tool or a person moved (issue 21 item 2).

:class:`balancerd.journal.Journal` owns the SQLite connection and calls these functions inside its own
transactions: :func:`record` when a cycle finds VMs that changed host without a balancerd move
(:mod:`balancerd.service.external`), :func:`since` for the cooldown and the back-off of
:mod:`balancerd.service.limits`. In the journal (table ``external_moves``) so that a restart keeps both.
"""

from __future__ import annotations

import sqlite3

from balancerd.model import ExternalMove

SCHEMA = """
CREATE TABLE IF NOT EXISTS external_moves (
    vm TEXT NOT NULL,
    source TEXT NOT NULL,
    dest TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS external_moves_seen ON external_moves (seen_at);
"""
"""Created by the journal beside its other tables; an older journal file gains it when it is opened."""

KEEP_S = 7 * 86_400.0
"""Rows older than this are dropped when new ones are written (the back-off looks back an hour and a bit)."""


def record(conn: sqlite3.Connection, moves: tuple[ExternalMove, ...]) -> None:
    """Add ``moves`` and forget the rows older than :data:`KEEP_S` before the newest."""
    conn.executemany("INSERT INTO external_moves (vm, source, dest, seen_at) VALUES (?, ?, ?, ?)",
                     [(m.vm, m.source, m.dest, m.seen_at) for m in moves])
    if moves:
        conn.execute("DELETE FROM external_moves WHERE seen_at < ?", (max(m.seen_at for m in moves) - KEEP_S,))


def since(conn: sqlite3.Connection, at: float) -> tuple[ExternalMove, ...]:
    """The external moves seen at or after ``at``, oldest first."""
    rows = conn.execute("SELECT vm, source, dest, seen_at FROM external_moves WHERE seen_at >= ? ORDER BY seen_at",
                        (at,)).fetchall()
    return tuple(ExternalMove(*row) for row in rows)
