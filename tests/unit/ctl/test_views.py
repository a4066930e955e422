"""balancerd.ctl.views: text for the API's answers, tolerant of keys the daemon does not send."""

from __future__ import annotations

from balancerd.ctl import views


def test_a_plan_without_moves() -> None:
    assert views.plan_text({"plan_id": 3, "snapshot_seq": 9, "moves": []}) == "plan 3 (snapshot 9): 0 moves, 0 skipped"


def test_a_plan_being_executed_shows_move_details() -> None:
    doc = {"plan_id": 4, "snapshot_seq": 10, "origin": "enforce", "executing": True,
           "moves": [{"vm": "a", "source": "h1", "dest": "h2", "kind": "live", "state": "failed",
                      "reason": "balance", "detail": "no route to h2"}]}
    assert views.plan_text(doc).splitlines() == ["plan 4 (snapshot 10, enforce, executing): 1 moves, 0 skipped",
                                                 "  a  h1 -> h2  live  failed  balance (no route to h2)"]


def test_explain_with_a_failing_check_and_an_error() -> None:
    doc = {"vm": "a", "plan_id": 1, "snapshot_seq": 2, "reasons": [],
           "preflight": [{"vm": "a", "dest": "h2", "skip_reason": "network br9 missing",
                          "checks": [{"name": "networks", "ok": False, "detail": "br9 missing"}]},
                         {"vm": "a", "dest": "h3", "error": "h3 unreachable"}]}
    assert views.explain_text(doc).splitlines() == [
        "a in plan 1 (snapshot 2):", "pre-flight of a -> h2: would be skipped: network br9 missing",
        "  FAIL networks: br9 missing", "pre-flight of a -> h3: error: h3 unreachable"]


def test_an_abort_that_could_not_be_verified() -> None:
    where = [{"host": "h1", "state": "paused"}, {"host": "h2", "state": "shutoff"}]
    doc = {"by": "uid 0", "aborted": [{"vm": "a", "source": "h1", "verified": False, "where": where}]}
    assert views.pause_text(doc).splitlines()[1] == "aborted a: NOT verified on h1: h1 paused, h2 shutoff"


def test_resume_while_a_pause_file_holds() -> None:
    assert views.resume_text({"paused": True, "reason": "paused by /var/lib/balancerd/pause"}) == \
        "still paused: paused by /var/lib/balancerd/pause"


def test_table_pads_all_but_the_last_column() -> None:
    assert views.table([["a", "bb", "x"], ["ccc", "d", "y"]]) == ["  a    bb  x", "  ccc  d   y"]
    assert views.table([]) == []
