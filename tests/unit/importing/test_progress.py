"""importing.progress: JSON lines at most once per percent with a final 100 %, tqdm bars, quiet."""

from __future__ import annotations

import io
import json

import pytest

from balancerd.importing import progress


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def percents(events: list[dict[str, object]]) -> list[int]:
    return [100 * int(str(e["done"])) // int(str(e["total"])) for e in events if e["event"] == "progress"]


def test_json_at_most_one_progress_line_per_percent() -> None:
    stream = io.StringIO()
    shown = progress.JsonEvents(stream)
    shown.begin("convert", "web.vmdk", 10_000)
    for done in range(0, 10_001, 7):
        shown.advance(done)
    shown.end()
    events = lines(stream)
    assert all(e["event"] == "progress" and e["step"] == "convert" and e["item"] == "web.vmdk"
               and e["total"] == 10_000 for e in events)
    assert percents(events) == list(range(0, 101))           # each percent once, in order
    assert events[0]["done"] == 0
    assert events[-1] == {"event": "progress", "step": "convert", "item": "web.vmdk", "done": 10_000,
                          "total": 10_000}


def test_json_end_adds_the_final_line_when_the_last_bytes_were_not_reported() -> None:
    stream = io.StringIO()
    shown = progress.JsonEvents(stream)
    shown.begin("upload", "web-disk0.qcow2", 1000)
    shown.advance(500)
    shown.advance(505)                                       # still 50 %: no line
    shown.end()
    assert [(e["done"], e["total"]) for e in lines(stream)] == [(0, 1000), (500, 1000), (1000, 1000)]


def test_json_no_second_final_line_once_100_was_shown() -> None:
    stream = io.StringIO()
    shown = progress.JsonEvents(stream)
    shown.begin("upload", "v", 100)
    shown.advance(100)
    shown.end()
    assert [e["done"] for e in lines(stream)] == [0, 100]


def test_json_steps_start_over_and_events_carry_their_fields() -> None:
    stream = io.StringIO()
    shown = progress.JsonEvents(stream)
    for step in ("convert", "upload"):
        shown.begin(step, "d", 200)
        shown.advance(200)
        shown.end()
    shown.event("defined", vm="web", host="h0")
    events = lines(stream)
    assert [(e["event"], e.get("step"), e.get("done")) for e in events] == [
        ("progress", "convert", 0), ("progress", "convert", 200), ("progress", "upload", 0),
        ("progress", "upload", 200), ("defined", None, None)]
    assert events[-1] == {"event": "defined", "vm": "web", "host": "h0"}


def test_json_an_empty_step_is_100_percent_at_once() -> None:
    stream = io.StringIO()
    shown = progress.JsonEvents(stream)
    shown.begin("convert", "empty", 0)
    shown.advance(0)
    shown.end()
    assert lines(stream) == [{"event": "progress", "step": "convert", "item": "empty", "done": 0, "total": 0}]


def test_bars_write_to_the_stream() -> None:
    stream = io.StringIO()
    shown = progress.Bars(stream)
    shown.advance(10)                                        # no bar yet: nothing happens
    shown.end()
    shown.begin("convert", "web.vmdk", 4 * 1024 * 1024)
    for done in (1024 * 1024, 3 * 1024 * 1024, 4 * 1024 * 1024):
        shown.advance(done)
    shown.end()
    shown.event("defined", vm="web", host="h0")
    text = stream.getvalue()
    assert "convert web.vmdk" in text
    assert "100%" in text
    assert "4.00M/4.00M" in text
    assert text.endswith("defined vm=web host=h0\n")


@pytest.mark.parametrize("shown", [progress.Quiet(), progress.Bars(io.StringIO()), progress.JsonEvents(io.StringIO())])
def test_every_kind_is_a_progress(shown: progress.Progress) -> None:
    assert isinstance(shown, progress.Quiet | progress.Bars | progress.JsonEvents)
    shown.begin("upload", "v", 10)
    shown.advance(5)
    shown.end()
    assert shown.event("removed", what="volume p/v", host="h0") is None


def test_an_event_during_a_bar_is_a_whole_line_and_the_bar_goes_on() -> None:
    stream = io.StringIO()
    shown = progress.Bars(stream)
    shown.begin("convert", "web (virt-v2v)", 100)
    shown.advance(40)
    shown.event("stage", stage="Inspecting the source")
    shown.advance(100)
    shown.end()
    before, line, after = stream.getvalue().partition("\rstage stage=Inspecting the source\n")
    assert line, "the event is a line of its own, at the start of one (the bar cleared first)"
    assert "40%" not in before and "40%" in after and "100%" in after, "the bar is drawn again below it"
