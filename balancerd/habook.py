"""What the journal keeps for two heads (``[ha]``): each move's term and head, and the records copied in.

:class:`balancerd.journal.Journal` creates the table and the columns when it opens a file (a journal of an
earlier release gains the two columns in place). :mod:`balancerd.ha.replica` copies the other heads' records
from etcd into this journal and marks each etcd key here, so a record is copied once and a takeover finds
every move, failure and drain the old leader made.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS ha_copied (key TEXT PRIMARY KEY, record_id INTEGER NOT NULL, at REAL NOT NULL);
"""

_COLUMNS = (("migrations", "term", "INTEGER"), ("migrations", "head", "TEXT"),
            ("ha_copied", "at", "REAL NOT NULL DEFAULT 0"))


def add_columns(conn: sqlite3.Connection) -> None:
    """Add ``term`` and ``head`` to ``migrations`` where an older journal lacks them (and ``at`` to the marks
    of a journal written before marks had it)."""
    for table, name, kind in _COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def copied(conn: sqlite3.Connection) -> dict[str, int]:
    return {key: record_id for key, record_id in conn.execute("SELECT key, record_id FROM ha_copied")}


def mark(conn: sqlite3.Connection, key: str, record_id: int, at: float) -> None:
    conn.execute("INSERT OR REPLACE INTO ha_copied (key, record_id, at) VALUES (?, ?, ?)", (key, record_id, at))


def forget(conn: sqlite3.Connection, before: float) -> None:
    """Drop the marks of records older than ``before`` (etcd no longer holds them either)."""
    conn.execute("DELETE FROM ha_copied WHERE at < ?", (before,))
