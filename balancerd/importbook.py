"""The record of imports in the journal (``balancerd import``, issue 22): each import's source, target, checks,
what it created on the host and how it ended.

:class:`balancerd.journal.Journal` owns the SQLite connection and calls these functions inside its own
transactions. :mod:`balancerd.importing.run` writes a row before it changes anything, adds every volume and
definition the moment it exists (so that a crash still says what to remove), and closes the row with the outcome.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from balancerd.backends.base import Check

SCHEMA = """
CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    outcome TEXT,
    detail TEXT NOT NULL DEFAULT '',
    checks TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL DEFAULT '[]'
);
"""
"""Created by the journal beside its other tables; an older journal file gains it when it is opened."""


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One import as the journal holds it; ``created`` lists "volume POOL/NAME" and "domain NAME" entries."""

    id: int
    name: str
    source: str
    host: str
    started_at: float
    ended_at: float | None
    outcome: str | None
    detail: str
    checks: tuple[Check, ...]
    created: tuple[str, ...]


def start(conn: sqlite3.Connection, name: str, source: str, host: str, at: float, checks: tuple[Check, ...]) -> int:
    cursor = conn.execute("INSERT INTO imports (name, source, host, started_at, checks) VALUES (?, ?, ?, ?, ?)",
                          (name, source, host, at, json.dumps([[c.name, c.ok, c.detail] for c in checks])))
    return int(cursor.lastrowid or 0)


def created(conn: sqlite3.Connection, record_id: int, what: str) -> None:
    row = conn.execute("SELECT created FROM imports WHERE id = ?", (record_id,)).fetchone()
    items = [*json.loads(row[0]), what] if row else [what]
    conn.execute("UPDATE imports SET created = ? WHERE id = ?", (json.dumps(items), record_id))


def end(conn: sqlite3.Connection, record_id: int, outcome: str, detail: str, at: float) -> None:
    conn.execute("UPDATE imports SET ended_at = ?, outcome = ?, detail = ? WHERE id = ?",
                 (at, outcome, detail, record_id))


def recent(conn: sqlite3.Connection, limit: int) -> tuple[ImportRecord, ...]:
    rows = conn.execute("SELECT id, name, source, host, started_at, ended_at, outcome, detail, checks, created "
                        "FROM imports ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return tuple(_record(row) for row in rows)


def _record(row: tuple[object, ...]) -> ImportRecord:
    rid, name, source, host, started, ended, outcome, detail, checks, made = row
    return ImportRecord(int(str(rid)), str(name), str(source), str(host), float(str(started)),
                        None if ended is None else float(str(ended)), None if outcome is None else str(outcome),
                        str(detail), tuple(Check(*c) for c in json.loads(str(checks))), tuple(json.loads(str(made))))
