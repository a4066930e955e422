"""The failure memory: moves refused at run time or failed, per (VM, destination), with exponential back-off.

:class:`balancerd.journal.Journal` owns the SQLite connection and calls these functions inside its own
transactions: :func:`settle` from ``migration_ended`` (every move's end, in the daemon and in ``balancerd
simulate``), :func:`release` for ``balancerctl release VM`` (through the control API, or on the journal file
when no daemon runs) and :func:`records` for what ``CycleRunner.propose`` hands to ``optimize.plan``. The
rows live in the journal's ``failures`` table so that they survive a restart. :func:`as_json` and
:func:`release_answer` shape them for the status document and the control API.

What counts (:func:`counts_as_failure`): a migration that ended FAILED or ABORTED (a refused start, a failed
job, the deadline's abort, an abort by someone else), except an abort the operator asked for (``balancerctl
pause --abort-running``, whose detail starts with :data:`OPERATOR_ABORT`, even when the job then did not stop
in time), and a move skipped because its pre-flight checks refused it (detail ``pre-flight failed: ...``).
Guard and drift skips, stale plans, pauses, superseded moves, the daemon stopping and a pre-flight that could
not run (the backend did not answer) do not count, nor do rows that reconciliation closes after a crash (they
do not pass through ``migration_ended``). A move that succeeded towards a destination clears that pair.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from balancerd.model import FailureRecord, MoveResult, Outcome

MAX_BACKOFF_S = 86_400.0
"""The back-off never reaches further than a day after the failure."""
OPERATOR_ABORT = "aborted: "
"""How the abort reason of ``balancerctl pause --abort-running`` starts (``service.control`` builds it)."""
PREFLIGHT_REFUSED = "pre-flight failed"
"""How the detail of a move skipped by its failed pre-flight checks starts (``execute.preflight``)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS failures (
    vm TEXT NOT NULL,
    dest TEXT NOT NULL,
    count INTEGER NOT NULL,
    failed_at REAL NOT NULL,
    retry_at REAL NOT NULL,
    last_error TEXT NOT NULL,
    PRIMARY KEY (vm, dest)
);
"""
"""Created by the journal beside its other tables; an older journal file gains it when it is opened."""


def backoff_s(base_s: float, count: int) -> float:
    """How long after its ``count``-th failure a pair waits: ``base_s * 2**(count-1)``, at most a day."""
    if count < 1:
        return 0.0
    exponent = min(count - 1, 64)  # 2**64 times any positive base is past the cap already
    return min(base_s * 2.0**exponent, MAX_BACKOFF_S)


def counts_as_failure(result: MoveResult) -> bool:
    """Whether ``result`` is remembered against its (VM, destination) (see the module docstring)."""
    if result.outcome in (Outcome.FAILED, Outcome.ABORTED):
        return not result.detail.startswith(OPERATOR_ABORT)  # the operator's abort, even one that did not stop
    if result.outcome is Outcome.SKIPPED:
        return result.detail.startswith(PREFLIGHT_REFUSED)
    return False


def settle(conn: sqlite3.Connection, result: MoveResult, base_s: float) -> None:
    """What ``result`` means for the memory: a success clears its pair, a failure that counts is recorded."""
    move = result.move
    if result.outcome is Outcome.SUCCEEDED:
        clear(conn, move.vm, move.dest)
    elif counts_as_failure(result):
        record(conn, move.vm, move.dest, result.finished_at, result.detail, base_s)


def record(conn: sqlite3.Connection, vm: str, dest: str, at: float, error: str, base_s: float) -> FailureRecord:
    """Count one more failure of ``vm`` towards ``dest`` at ``at``; the pair's record afterwards."""
    row = conn.execute("SELECT count FROM failures WHERE vm = ? AND dest = ?", (vm, dest)).fetchone()
    count = 1 if row is None else int(row[0]) + 1
    retry_at = at + backoff_s(base_s, count)
    conn.execute("INSERT INTO failures (vm, dest, count, failed_at, retry_at, last_error) VALUES (?, ?, ?, ?, ?, ?)"
                 " ON CONFLICT (vm, dest) DO UPDATE SET count = excluded.count, failed_at = excluded.failed_at,"
                 " retry_at = excluded.retry_at, last_error = excluded.last_error",
                 (vm, dest, count, at, retry_at, error))
    return FailureRecord(vm, dest, count, retry_at, error)


def clear(conn: sqlite3.Connection, vm: str, dest: str) -> None:
    """Forget the failures of ``vm`` towards ``dest`` (it moved there)."""
    conn.execute("DELETE FROM failures WHERE vm = ? AND dest = ?", (vm, dest))


def release(conn: sqlite3.Connection, vm: str) -> tuple[FailureRecord, ...]:
    """Forget every failure of ``vm``; the records that were cleared."""
    cleared = _select(conn, "WHERE vm = ?", (vm,))
    conn.execute("DELETE FROM failures WHERE vm = ?", (vm,))
    return cleared


def records(conn: sqlite3.Connection) -> tuple[FailureRecord, ...]:
    """Every remembered pair, by VM then destination."""
    return _select(conn, "", ())


def _select(conn: sqlite3.Connection, where: str, args: tuple[object, ...]) -> tuple[FailureRecord, ...]:
    rows = conn.execute(f"SELECT vm, dest, count, retry_at, last_error FROM failures {where} ORDER BY vm, dest",
                        args).fetchall()
    return tuple(FailureRecord(vm, dest, int(count), float(retry), error) for vm, dest, count, retry, error in rows)


def as_json(record: FailureRecord) -> dict[str, Any]:
    """One record as the status document and the control API show it."""
    return {"vm": record.vm, "dest": record.dest, "count": record.count, "retry_at": record.retry_at,
            "last_error": record.last_error}


def release_answer(vm: str, cleared: tuple[FailureRecord, ...], offline: bool) -> dict[str, Any]:
    """What a release answers, from the daemon's API or from ``balancerctl`` on the journal file (``offline``)."""
    return {"vm": vm, "released": bool(cleared), "offline": offline, "cleared": [as_json(r) for r in cleared]}
