"""The executor's Recorder on a head with ``[ha]``: the journal, with each start fenced and shared through etcd.

:class:`balancerd.service.heads.Heads` builds it and the cycle's executor writes through it
(:class:`~balancerd.execute.report.Recorder`). A move's start is recorded in the local journal with the
term of the plan it belongs to, then written to etcd in a transaction that holds only while this head still
leads that term (:meth:`~balancerd.ha.leader.Leadership.fenced`); when it does not, the local row is closed
as skipped and :class:`~balancerd.errors.FencedError` tells the executor to start nothing. Ends are written
locally and to etcd (:class:`~balancerd.ha.replica.Replica`); skipped moves stay local.
"""

from __future__ import annotations

import threading

from balancerd.backends.base import Check
from balancerd.errors import FencedError
from balancerd.ha import etcd
from balancerd.ha.leader import Leadership
from balancerd.ha.replica import Replica
from balancerd.journal import Journal
from balancerd.model import Move, MoveResult, Outcome

_KEPT_PLANS = 64
"""Plans whose term is remembered: a cycle submits one, a newer one supersedes the unstarted moves of older ones."""


class HaRecorder:
    """Journal + fence + replica; knows which term each submitted plan was made in."""

    def __init__(self, journal: Journal, leadership: Leadership, replica: Replica) -> None:
        self._journal = journal
        self._leadership = leadership
        self._replica = replica
        self._terms: dict[int, int] = {}
        self._lock = threading.Lock()

    def planned(self, plan_id: int, term: int) -> None:
        """Plan ``plan_id`` was made (or approved) while this head led ``term``; only the latest plans are kept
        (older ones were superseded: their moves no longer start)."""
        with self._lock:
            self._terms[plan_id] = term
            while len(self._terms) > _KEPT_PLANS:
                del self._terms[next(iter(self._terms))]

    def term_of(self, plan_id: int) -> int:
        with self._lock:
            return self._terms.get(plan_id, 0)

    def migration_started(self, plan_id: int, move: Move, at: float) -> int:
        term = self.term_of(plan_id)
        record_id = self._journal.migration_started(plan_id, move, at, term, self._leadership.name)
        key = self._replica.start_key(record_id)
        try:
            self._leadership.fenced(term, [etcd.put(key, self._replica.start_value(plan_id, move, at, term))])
        except FencedError as exc:
            skipped = MoveResult(move, Outcome.SKIPPED, at, at, str(exc))
            self._journal.migration_ended(record_id, skipped)
            if exc.__cause__ is not None:  # not known whether etcd took the start: say it ended
                self._replica.ended(record_id, skipped)
            raise
        return record_id

    def migration_ended(self, record_id: int, result: MoveResult) -> None:
        self._journal.migration_ended(record_id, result)
        self._replica.ended(record_id, result)

    def record_checks(self, record_id: int, checks: tuple[Check, ...]) -> None:
        self._journal.record_checks(record_id, checks)

    def record_skip(self, plan_id: int, move: Move, result: MoveResult, checks: tuple[Check, ...] = ()) -> None:
        self._journal.record_skip(plan_id, move, result, checks)
