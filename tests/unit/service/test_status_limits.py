"""service.status and balancerctl status: why moves wait (blackout window, back-off), the VMs at their daily
cap and the external moves of the last cycle, as the status document and its text show them."""

from __future__ import annotations

import dataclasses

from balancerd.ctl import views
from balancerd.model import ExternalMove
from balancerd.service import status
from tests.unit.service.test_status_held import _report

WINDOW = "blackout window Mon-Fri 08:00-18:00 Europe/Berlin: only drains start"


def _limited() -> dict[str, object]:
    report = dataclasses.replace(_report(()), waiting=(WINDOW,), capped=(("v1", 2),),
                                 external_moves=(ExternalMove("v1", "b", "a", 40.0),))
    return status.render(report, (), 1, None, frozenset())


def test_the_status_document_carries_the_limits() -> None:
    assert _limited()["limits"] == {
        "waiting": [WINDOW], "capped": [{"vm": "v1", "moves_24h": 2}],
        "external_moves": [{"vm": "v1", "source": "b", "dest": "a", "seen_at": 40.0}]}


def test_status_text_says_what_waits_and_why() -> None:
    assert views.limit_lines(_limited()) == [f"WAITING: {WINDOW}", "at the daily cap (moves in 24 h): v1 (2)",
                                             "external move: v1 b -> a (cooldown given)"]


def test_no_limits_no_lines() -> None:
    doc = status.render(_report(()), (), 1, None, frozenset())
    assert doc["limits"] == {"waiting": [], "capped": [], "external_moves": []}
    assert views.limit_lines(doc) == []
