"""The journal's cluster-wide records in etcd: every head's moves, restores and releases, copied into the others.

Cooldowns, the per-VM daily cap, the failure memory and the "drained from" record of move-back all follow
from the journal's migration rows (:mod:`balancerd.failmemory` and :mod:`balancerd.restorebook` settle with each
move's end), so the way to keep them across a takeover is to keep the rows: the leader writes each move to
etcd when it starts (in the fenced transaction of :class:`~balancerd.ha.recorder.HaRecorder`, so the record and
the right to start are one write) and when it ends; restores asked for and failure records released by an
operator are written the same way. Every head copies the others' records into its own journal each cycle
(:meth:`Replica.copy_in`), so a follower's cooldowns, failure memory and drain records are the leader's.

Keys: ``<prefix>events/<head>/<ns>-<row>`` (a move started), the same with ``.end`` (how it ended), and
``<prefix>events/<head>/op-<ns>`` (a restore or a release). Records older than :data:`KEEP_S` are pruned by
the leader.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import structlog

from balancerd.errors import CoordinationError, StateError
from balancerd.ha.etcd import Etcd, KeyValue
from balancerd.journal import Journal
from balancerd.journalrows import move_as_json, move_from_json
from balancerd.model import Move, MoveResult, Outcome

log = structlog.get_logger("balancerd.ha")

KEEP_S = 2 * 86_400.0
"""Records are kept two days: longer than the daily cap's rolling day and any failure back-off."""
PRUNE_EVERY_S = 3600.0
"""How often the leader reads every record to delete the old ones (other cycles read only new records)."""


class Replica:
    """One head's side of the shared records: what it writes, and the others' records it copies in."""

    def __init__(self, client: Etcd, prefix: str, head: str, journal: Journal) -> None:
        self._etcd = client
        self._root = prefix + "events/"
        self._head = head
        self._journal = journal
        self._outbox: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._keys: dict[int, str] = {}
        self._done: dict[str, int] | None = None
        self._revision = 0
        self._pruned_at = float("-inf")

    def start_key(self, record_id: int) -> str:
        """The key of a move's start (made once per record; its end is the same key with ``.end``). The time
        in it keeps keys apart when row ids start over (``balancerd journal recover``)."""
        with self._lock:
            key = self._keys.get(record_id)
            if key is None:
                key = self._keys[record_id] = f"{self._root}{self._head}/{time.time_ns():020d}-{record_id}"
            return key

    @staticmethod
    def start_value(plan_id: int, move: Move, at: float, term: int) -> bytes:
        return json.dumps({"kind": "started", "plan_id": plan_id, "move": move_as_json(move), "at": at,
                           "term": term}).encode()

    def ended(self, record_id: int, result: MoveResult) -> None:
        """Write how a move ended (unfenced: a move that started must have its end known); kept to retry."""
        body = {"kind": "ended", "at": result.finished_at, "outcome": result.outcome.value,
                "detail": result.detail, "started_at": result.started_at, "downtime_ms": result.downtime_ms,
                "bytes": result.bytes_transferred, "move": move_as_json(result.move)}
        key = self.start_key(record_id) + ".end"
        with self._lock:
            self._keys.pop(record_id, None)
        self._send(key, json.dumps(body).encode())

    def operation(self, kind: str, at: float, ns: int, **fields: Any) -> None:
        """Write an operator's ``restore`` (host) or ``release`` (vm) for the other heads."""
        self._send(f"{self._root}{self._head}/op-{ns:020d}", json.dumps({"kind": kind, "at": at, **fields}).encode())

    def _send(self, key: str, value: bytes) -> None:
        with self._lock:
            self._outbox.append((key, value))
        self.flush()

    def flush(self) -> None:
        """Write what etcd did not take yet (it was unreachable), oldest first."""
        with self._lock:
            while self._outbox:
                key, value = self._outbox[0]
                try:
                    self._etcd.write(key, value)
                except CoordinationError as exc:
                    log.warning("record kept for etcd", key=key, waiting=len(self._outbox), error=str(exc))
                    return
                self._outbox.pop(0)

    def copy_in(self, now: float, prune: bool = False) -> int:
        """Copy the other heads' records written since the last call into the journal (oldest write first); how
        many. ``prune`` (the leader) also deletes records older than :data:`KEEP_S`, once an hour."""
        self.flush()
        if self._done is None:
            self._done = self._journal.copied()
        full = prune and now - self._pruned_at >= PRUNE_EVERY_S
        found, revision = self._etcd.scan(self._root, 0 if full else self._revision + 1)
        if revision < self._revision:  # etcd was rebuilt: its revisions started over
            found, revision = self._etcd.scan(self._root, 0)
        records = sorted(found, key=lambda kv: kv.mod_revision)
        count = 0
        for kv in records:
            if kv.key not in self._done and not kv.key.startswith(f"{self._root}{self._head}/"):
                count += self._apply(kv, self._done, now)
        self._revision = revision
        if full:
            self._prune(records, now)
        return count

    def _apply(self, kv: KeyValue, done: dict[str, int], now: float) -> int:
        at = now
        try:
            data = json.loads(kv.value)
            at = float(data.get("at", now))
            record_id = _copy(self._journal, kv.key, data, done)
        except (ValueError, KeyError, TypeError, AttributeError, StateError) as exc:
            log.warning("shared record not copied", key=kv.key, error=str(exc))
            record_id = 0
        self._journal.mark_copied(kv.key, record_id, at)
        done[kv.key] = record_id
        return 1 if record_id else 0

    def _prune(self, records: list[KeyValue], now: float) -> None:
        """Delete records older than :data:`KEEP_S` from etcd, and their marks from the journal."""
        self._pruned_at = now
        for kv in records:
            try:
                old = float(json.loads(kv.value).get("at", now)) < now - KEEP_S
            except (ValueError, TypeError, AttributeError):
                old = True
            if old:
                self._etcd.remove(kv.key)
        self._journal.forget_copied(now - KEEP_S)
        if self._done is not None:
            self._done = self._journal.copied()


def _copy(journal: Journal, key: str, data: dict[str, Any], done: dict[str, int]) -> int:
    """Write one record of another head into ``journal``; the row it made or touched (0: nothing)."""
    kind = data["kind"]
    head = key.rsplit("/", 2)[-2]
    if kind == "started":
        return journal.migration_started(0, move_from_json(data["move"]), float(data["at"]), int(data["term"]), head)
    if kind == "ended":
        record_id = done.get(key.removesuffix(".end"), 0)
        if record_id:
            journal.migration_ended(record_id, _result(data))
        return record_id
    if kind == "restore":
        journal.request_restore(str(data["host"]), float(data["at"]))
        return -1
    if kind == "release":
        journal.release_failures(str(data["vm"]))
        return -1
    raise ValueError(f"unknown record kind {kind!r}")


def _result(data: dict[str, Any]) -> MoveResult:
    return MoveResult(move_from_json(data["move"]), Outcome(data["outcome"]), float(data["started_at"]),
                      float(data["at"]), str(data["detail"]), data.get("downtime_ms"), int(data.get("bytes", 0)))
