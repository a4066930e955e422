"""The SQLite journal of plans and migrations, and reconciliation after a restart (ARCHITECTURE.md rule 12).

The daemon opens one :class:`Journal` at start, records every plan it computes (:meth:`Journal.record_plan`)
and hands the journal to the executor as its ``Recorder``: each move is written before it starts and after
it ends, with its pre-flight checks (:meth:`Journal.record_checks`). On start the daemon calls
:func:`balancerd.reconcile.reconcile` to close the rows a crash left open. The per-VM cooldown
reads :meth:`Journal.recent_moves`; status reads :meth:`Journal.migrations`. The control API records who
did what (:meth:`Journal.record_action`) and approves a recorded plan (:meth:`Journal.recorded_plan`).
Each move's end also settles the failure memory (:mod:`balancerd.failmemory`, the ``failures`` table) in the
same transaction; the cycle reads it (:meth:`Journal.failures`) and ``balancerctl release`` clears a VM's rows
(:meth:`Journal.release_failures`). The move-back record (:mod:`balancerd.restorebook`: what drains took off each
host, the open restores) is settled in the same transaction too. External moves (VMs another tool or a person
moved, :mod:`balancerd.externalbook`) are recorded by the cycle and read for the cooldown and the back-off.
``balancerd import`` records each import, what it created and how it ended (:mod:`balancerd.importbook`).

One connection (``check_same_thread=False``) guarded by a lock, WAL mode, ``synchronous=FULL`` so that a
row written before a migration starts survives a power cut. Every sqlite or file-system failure becomes a
:class:`~balancerd.errors.StateError` naming the journal's path.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from balancerd import externalbook, failmemory, habook, importbook, restorebook
from balancerd.backends.base import Check
from balancerd.errors import StateError
from balancerd.journalrows import ENTRY_COLUMNS, Action, JournalEntry, RecordedPlan, entry, move_as_json, move_from_json
from balancerd.model import ExternalMove, FailureRecord, Move, MoveResult, Outcome, Plan, Restore

__all__ = ["RECOVER_HINT", "SCHEMA_VERSION", "Action", "Journal", "JournalEntry", "RecordedPlan"]

SCHEMA_VERSION = 1
RECOVER_HINT = ("; if the file is damaged, stop balancerd and run `balancerd journal recover --config CONFIG` "
                "(moves it aside, starts a new journal, settles what libvirt reports)")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    snapshot_seq INTEGER NOT NULL,
    strategy TEXT NOT NULL,
    mode TEXT NOT NULL,
    score_before REAL NOT NULL,
    score_after REAL NOT NULL,
    moves TEXT NOT NULL,
    skipped TEXT NOT NULL,
    notes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS migrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id INTEGER NOT NULL,
    vm TEXT NOT NULL,
    source TEXT NOT NULL,
    dest TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT,
    detail TEXT NOT NULL DEFAULT '',
    downtime_ms INTEGER,
    bytes_transferred INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS checks (
    migration_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    caller TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checks_migration ON checks (migration_id);
CREATE INDEX IF NOT EXISTS migrations_finished ON migrations (finished_at);
CREATE INDEX IF NOT EXISTS migrations_open ON migrations (id) WHERE finished_at IS NULL;
"""

class Journal:
    """Plans and migrations in one SQLite file; implements the executor's ``Recorder``."""

    def __init__(self, path: Path, failure_backoff_s: float = 300.0) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn = self._open(path)
        self.failure_backoff_s = failure_backoff_s
        """``[policy] failure_backoff_s``: the back-off after a first failure (``CycleRunner`` keeps it current)."""

    @property
    def path(self) -> Path:
        return self._path

    def record_plan(self, plan: Plan, mode: str) -> int:
        """Store ``plan`` (executed or not, per ``mode``) and return its id."""
        row = (plan.created_at, plan.snapshot_seq, plan.strategy, mode, plan.score_before, plan.score_after,
               json.dumps([move_as_json(move) for move in plan.moves]),
               json.dumps([{"vm": skip.vm, "reasons": list(skip.reasons)} for skip in plan.skipped]),
               json.dumps(list(plan.notes)))
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO plans (created_at, snapshot_seq, strategy, mode, score_before, score_after,"
                " moves, skipped, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return _row_id(cursor)

    def migration_started(self, plan_id: int, move: Move, at: float, term: int | None = None,
                          head: str | None = None) -> int:
        """Record that ``move`` of plan ``plan_id`` is about to start at ``at``; return the record id. With
        ``[ha]``: the leader's ``term`` and the ``head`` that started it (another head's moves are copied in)."""
        row = (plan_id, move.vm, move.source, move.dest, move.kind.value, move.reason, at, term, head)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO migrations (plan_id, vm, source, dest, kind, reason, started_at, term, head)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return _row_id(cursor)

    def record_skip(self, plan_id: int, move: Move, result: MoveResult, checks: tuple[Check, ...] = ()) -> None:
        """Record a move that was skipped before it started (its checks, why) and what that means for the failure
        memory: one transaction."""
        row = (plan_id, move.vm, move.source, move.dest, move.kind.value, move.reason, result.started_at,
               result.finished_at, result.outcome.value, result.detail)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO migrations (plan_id, vm, source, dest, kind, reason, started_at, finished_at, outcome,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            conn.executemany("INSERT INTO checks (migration_id, name, ok, detail) VALUES (?, ?, ?, ?)",
                             [(_row_id(cursor), c.name, int(c.ok), c.detail) for c in checks])
            _settle(conn, result, self.failure_backoff_s)

    def copied(self) -> dict[str, int]:
        """The other heads' records already copied in (``[ha]``): their etcd key -> this journal's row id."""
        with self._locked() as conn:
            return habook.copied(conn)

    def mark_copied(self, key: str, record_id: int, at: float) -> None:
        with self._write() as conn:
            habook.mark(conn, key, record_id, at)

    def forget_copied(self, before: float) -> None:
        with self._write() as conn:
            habook.forget(conn, before)

    def migration_ended(self, record_id: int, result: MoveResult) -> None:
        """Record how the move of ``record_id`` ended, and what that means for the failure memory."""
        backoff = self.failure_backoff_s
        self._end(record_id, result.outcome, result.detail, result.finished_at,
                  result.downtime_ms, result.bytes_transferred,
                  lambda conn: _settle(conn, result, backoff))

    def record_checks(self, record_id: int, checks: tuple[Check, ...]) -> None:
        """Record the pre-flight checks of the move of ``record_id`` (shown by status and ``--explain``)."""
        rows = [(record_id, check.name, int(check.ok), check.detail) for check in checks]
        with self._write() as conn:
            conn.executemany("INSERT INTO checks (migration_id, name, ok, detail) VALUES (?, ?, ?, ?)", rows)

    def checks(self, record_id: int) -> tuple[Check, ...]:
        """The pre-flight checks recorded for the move of ``record_id``, in the order they were recorded."""
        with self._locked() as conn:
            rows = conn.execute("SELECT name, ok, detail FROM checks WHERE migration_id = ? ORDER BY rowid",
                                (record_id,)).fetchall()
        return tuple(Check(name, bool(ok), detail) for name, ok, detail in rows)

    def close_unfinished(self, record_id: int, outcome: Outcome, detail: str, at: float) -> None:
        """Close a row a crash left open (reconciliation)."""
        self._end(record_id, outcome, detail, at, None, 0)

    def unfinished(self) -> tuple[JournalEntry, ...]:
        """Moves that were started and never ended (the daemon died during them), oldest first."""
        return self._entries("WHERE finished_at IS NULL ORDER BY id", ())

    def recent_moves(self, since: float) -> tuple[JournalEntry, ...]:
        """Migrations that ended at or after ``since`` (skipped moves excluded: nothing moved), oldest first."""
        return self._entries("WHERE finished_at >= ? AND outcome != ? ORDER BY finished_at, id",
                             (since, Outcome.SKIPPED.value))

    def moves_of(self, vm: str, since: float) -> int:
        """How many moves of ``vm`` succeeded at or after ``since`` (the guard's per-VM daily cap)."""
        with self._locked() as conn:
            row = conn.execute("SELECT COUNT(*) FROM migrations WHERE vm = ? AND finished_at >= ? AND outcome = ?",
                               (vm, since, Outcome.SUCCEEDED.value)).fetchone()
        return int(row[0])

    def migrations(self, limit: int = 100) -> tuple[JournalEntry, ...]:
        """The last ``limit`` journalled moves, newest first."""
        return self._entries("ORDER BY id DESC LIMIT ?", (limit,))

    def recorded_plan(self, plan_id: int) -> RecordedPlan | None:
        """Plan ``plan_id`` as recorded (its moves, scores and mode), or None when there is none."""
        with self._locked() as conn:
            row = conn.execute("SELECT snapshot_seq, created_at, moves, score_before, score_after, strategy, mode"
                               " FROM plans WHERE id = ?", (plan_id,)).fetchone()
        if row is None:
            return None
        seq, created, moves, before, after, strategy, mode = row
        parsed = tuple(move_from_json(item) for item in json.loads(moves))
        return RecordedPlan(Plan(seq, created, parsed, before, after, strategy), mode)

    def record_action(self, at: float, caller: str, action: str, detail: str) -> None:
        """Record an operator's action (maintenance, pause, resume, approve) and who made it."""
        with self._write() as conn:
            conn.execute("INSERT INTO actions (at, caller, action, detail) VALUES (?, ?, ?, ?)",
                         (at, caller, action, detail))

    def actions(self, limit: int = 100) -> tuple[Action, ...]:
        """The last ``limit`` operator actions, newest first."""
        with self._locked() as conn:
            rows = conn.execute("SELECT at, caller, action, detail FROM actions ORDER BY id DESC LIMIT ?",
                                (limit,)).fetchall()
        return tuple(Action(*row) for row in rows)

    def failures(self) -> tuple[FailureRecord, ...]:
        """The failure memory: every (VM, destination) with failures, by VM then destination."""
        with self._locked() as conn:
            return failmemory.records(conn)

    def record_failure(self, vm: str, dest: str, at: float, error: str) -> FailureRecord:
        """Count one more failure of ``vm`` towards ``dest`` at ``at`` (back-off from ``failure_backoff_s``)."""
        with self._write() as conn:
            return failmemory.record(conn, vm, dest, at, error, self.failure_backoff_s)

    def release_failures(self, vm: str) -> tuple[FailureRecord, ...]:
        """Forget every failure of ``vm`` (``balancerctl release``); the records that were cleared."""
        with self._write() as conn:
            return failmemory.release(conn, vm)

    def request_restore(self, host: str, at: float) -> bool:
        """Open a move-back to ``host`` (it left maintenance with a restore); False when nothing was drained off it."""
        with self._write() as conn:
            return restorebook.request(conn, host, at)

    def restores(self) -> tuple[Restore, ...]:
        """The open move-back requests with their VMs (what the cycle hands to the planner)."""
        with self._locked() as conn:
            return restorebook.requests(conn)

    def finish_restore(self, host: str) -> None:
        """Close the move-back to ``host`` once a plan says nothing is left to move back."""
        with self._write() as conn:
            restorebook.finish(conn, host)

    def cancel_restore(self, host: str) -> None:
        """Close the move-back to ``host`` without forgetting what was drained (it entered maintenance again)."""
        with self._write() as conn:
            restorebook.cancel(conn, host)

    def record_external(self, moves: tuple[ExternalMove, ...]) -> None:
        """Record VMs that changed host without a balancerd move."""
        with self._write() as conn:
            externalbook.record(conn, moves)

    def external_moves(self, since: float) -> tuple[ExternalMove, ...]:
        """External moves seen at or after ``since``, oldest first."""
        with self._locked() as conn:
            return externalbook.since(conn, since)

    def import_started(self, name: str, source: str, host: str, at: float, checks: tuple[Check, ...]) -> int:
        """Record an import before it changes anything (:mod:`balancerd.importbook`); its row id."""
        with self._write() as conn:
            return importbook.start(conn, name, source, host, at, checks)

    def import_created(self, record_id: int, what: str) -> None:
        """Add what an import just created ("volume POOL/NAME", "domain NAME")."""
        with self._write() as conn:
            importbook.created(conn, record_id, what)

    def import_ended(self, record_id: int, outcome: str, detail: str, at: float) -> None:
        with self._write() as conn:
            importbook.end(conn, record_id, outcome, detail, at)

    def imports(self, limit: int = 20) -> tuple[importbook.ImportRecord, ...]:
        """The latest imports, newest first."""
        with self._locked() as conn:
            return importbook.recent(conn, limit)

    def integrity_problem(self) -> str | None:
        """What SQLite's integrity check finds wrong with the file, or None."""
        with self._locked() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        found = [str(row[0]) for row in rows if row[0] != "ok"]
        return "; ".join(found[:5]) or None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- internals ------------------------------------------------------------------------------------

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"journal {path}: cannot open: {exc}{RECOVER_HINT}") from exc
        try:
            _prepare(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise StateError(f"journal {path}: cannot create the schema: {exc}{RECOVER_HINT}") from exc
        except StateError:
            conn.close()
            raise
        return conn

    def _end(self, record_id: int, outcome: Outcome, detail: str, at: float, downtime_ms: int | None,
             transferred: int, also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Close the row of ``record_id``; ``also`` runs in the same transaction once the row is closed."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE migrations SET finished_at = ?, outcome = ?, detail = ?, downtime_ms = ?,"
                " bytes_transferred = ? WHERE id = ? AND finished_at IS NULL",
                (at, outcome.value, detail, downtime_ms, transferred, record_id))
            if cursor.rowcount == 1 and also is not None:
                also(conn)
        if cursor.rowcount != 1:
            raise StateError(f"journal {self._path}: no open migration record {record_id}")

    def _entries(self, clause: str, args: tuple[object, ...]) -> tuple[JournalEntry, ...]:
        with self._locked() as conn:
            rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM migrations {clause}", args).fetchall()
        return tuple(entry(row) for row in rows)

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                damaged = isinstance(exc, sqlite3.DatabaseError | sqlite3.IntegrityError) and not isinstance(
                    exc, sqlite3.OperationalError | sqlite3.ProgrammingError | sqlite3.IntegrityError)
                hint = RECOVER_HINT if damaged else ""
                raise StateError(f"journal {self._path}: {exc}{hint}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock: committed on success, rolled back on error."""
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _settle(conn: sqlite3.Connection, result: MoveResult, backoff_s: float) -> None:
    """What a move's end means beyond its row: the failure memory and the move-back record."""
    failmemory.settle(conn, result, backoff_s)
    restorebook.settle(conn, result.move, result)


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL, create the schema if missing, and refuse a journal of another schema version."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(_SCHEMA + failmemory.SCHEMA + restorebook.SCHEMA + externalbook.SCHEMA + importbook.SCHEMA
                       + habook.SCHEMA)
    habook.add_columns(conn)
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version != str(SCHEMA_VERSION):
        raise StateError(f"journal {path}: schema version {version}, this balancerd reads {SCHEMA_VERSION}")


def _row_id(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise StateError("journal: insert returned no row id")
    return cursor.lastrowid
