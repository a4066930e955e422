"""balancerd.blackout: windows judged in their own time zone's wall-clock time (DST included), across midnight,
the strictest of overlapping windows, and errors that name what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from balancerd import blackout
from balancerd.model import Purpose


def _at(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


BERLIN = blackout.parse(["Mon-Fri"], "08:00", "18:00", "Europe/Berlin", "drains")


@pytest.mark.parametrize(("when", "inside"), [
    ("2026-03-23T06:30:00+00:00", False),  # Monday 07:30 CET, before the window
    ("2026-03-23T07:30:00+00:00", True),   # Monday 08:30 CET
    ("2026-03-30T06:30:00+00:00", True),   # Monday 08:30 CEST: summer time began on 29 March
    ("2026-03-30T16:30:00+00:00", False),  # Monday 18:30 CEST
    ("2026-10-26T07:30:00+00:00", True),   # Monday 08:30 CET again after 25 October
    ("2026-10-26T06:30:00+00:00", False),  # Monday 07:30 CET
    ("2026-03-28T10:00:00+00:00", False),  # Saturday
])
def test_a_window_holds_in_its_time_zone_across_daylight_saving(when: str, inside: bool) -> None:
    assert BERLIN.contains(_at(when)) is inside


NIGHT = blackout.parse(["Fri"], "22:00", "06:00", "UTC", "nothing")


@pytest.mark.parametrize(("when", "inside"), [
    ("2026-03-27T21:59:00+00:00", False),
    ("2026-03-27T22:00:00+00:00", True),
    ("2026-03-28T05:59:00+00:00", True),   # Saturday morning belongs to Friday's window
    ("2026-03-28T06:00:00+00:00", False),  # the end is outside
    ("2026-03-28T23:00:00+00:00", False),  # Saturday night: the window starts on Fridays only
    ("2026-03-26T23:00:00+00:00", False),  # Thursday night
])
def test_a_window_across_midnight_belongs_to_the_day_it_starts_on(when: str, inside: bool) -> None:
    assert NIGHT.contains(_at(when)) is inside


def test_the_strictest_window_holds_where_windows_overlap() -> None:
    loose = blackout.parse(["*"], "00:00", "23:59", "UTC", "drains+restores")
    friday = _at("2026-03-27T23:00:00+00:00")
    assert blackout.in_force([loose, NIGHT], friday) is NIGHT
    assert blackout.in_force([loose, NIGHT], _at("2026-03-25T12:00:00+00:00")) is loose
    assert blackout.in_force([NIGHT], _at("2026-03-25T12:00:00+00:00")) is None


def test_what_each_level_allows() -> None:
    assert NIGHT.allowed == frozenset()
    assert BERLIN.allowed == {Purpose.DRAIN}
    assert blackout.parse([], "01:00", "02:00", "UTC", "drains+restores").allowed == {Purpose.DRAIN, Purpose.RESTORE}
    assert BERLIN.describe() == "blackout window Mon-Fri 08:00-18:00 Europe/Berlin: only drains start"


def test_no_days_means_every_day() -> None:
    window = blackout.parse([], "01:00", "02:00", "UTC", "nothing")
    assert all(window.contains(_at(f"2026-03-{day:02d}T01:30:00+00:00")) for day in range(23, 30))


@pytest.mark.parametrize(("days", "start", "end", "tz", "allow", "message"), [
    (["Mon"], "08:00", "08:00", "UTC", "nothing", "a start and an end that differ"),
    (["Mon"], "8", "18:00", "UTC", "nothing", "write HH:MM"),
    (["Mon"], "08:00", "24:00", "UTC", "nothing", "not a time of day"),
    (["Mo"], "08:00", "18:00", "UTC", "nothing", "unknown day 'Mo'"),
    (["Mon"], "08:00", "18:00", "Mars/Olympus", "nothing", "unknown time zone 'Mars/Olympus'"),
    (["Mon"], "08:00", "18:00", "UTC", "balance", "allow must be one of nothing, drains, drains+restores"),
])
def test_bad_windows_say_what_is_wrong(days: list[str], start: str, end: str, tz: str, allow: str,
                                       message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        blackout.parse(days, start, end, tz, allow)
