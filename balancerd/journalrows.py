"""The rows the journal hands out and the JSON it stores moves as: values, no SQL.

:mod:`balancerd.journal` builds these from its tables; the status, the control API, reconciliation and the HA
replica (:mod:`balancerd.ha.replica`, which sends moves to the other heads as the same JSON) read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from balancerd.model import Move, MoveKind, Outcome, Plan, Purpose

ENTRY_COLUMNS = "id, plan_id, vm, source, dest, kind, started_at, finished_at, outcome, detail, term, head"


@dataclass(frozen=True, slots=True)
class Action:
    """One operator action through the control API: when, who, what, with which outcome."""

    at: float
    caller: str
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class RecordedPlan:
    """A plan as the journal holds it, with the mode it was recorded in."""

    plan: Plan
    mode: str


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journalled move; ``finished_at`` and ``outcome`` are None while it has not ended."""

    id: int
    plan_id: int
    vm: str
    source: str
    dest: str
    kind: MoveKind
    started_at: float
    finished_at: float | None
    outcome: Outcome | None
    detail: str
    term: int | None = None
    """The leader's term the move started in (``[ha]``); None on a single head."""
    head: str | None = None
    """The head that started it (``[ha]``); None on a single head."""


def move_as_json(move: Move) -> dict[str, object]:
    return {"vm": move.vm, "source": move.source, "dest": move.dest, "kind": move.kind.value,
            "reason": move.reason, "gain": move.gain, "memory_mib": move.memory_mib, "purpose": move.purpose.value}


def move_from_json(item: dict[str, Any]) -> Move:
    return Move(item["vm"], item["source"], item["dest"], MoveKind(item["kind"]), item["reason"],
                float(item["gain"]), int(item["memory_mib"]), Purpose(item.get("purpose", Purpose.BALANCE.value)))


def entry(row: tuple[Any, ...]) -> JournalEntry:
    ident, plan_id, vm, source, dest, kind, started_at, finished_at, outcome, detail, term, head = row
    return JournalEntry(
        id=ident, plan_id=plan_id, vm=vm, source=source, dest=dest, kind=MoveKind(kind),
        started_at=started_at, finished_at=finished_at,
        outcome=None if outcome is None else Outcome(outcome), detail=detail, term=term, head=head,
    )
