from __future__ import annotations

import calendar

import pytest

from balancerd.cold_windows import in_any_window, parse_days, parse_window


def at(text: str) -> float:
    """Epoch seconds of a UTC 'YYYY-MM-DD HH:MM'."""
    date, time = text.split()
    y, m, d = (int(x) for x in date.split("-"))
    hh, mm = (int(x) for x in time.split(":"))
    return float(calendar.timegm((y, m, d, hh, mm, 0)))


def test_daily_window() -> None:
    window = parse_window("01:00-05:00")
    assert window.contains(at("2026-11-26 01:00")) and window.contains(at("2026-11-26 04:59"))
    assert not window.contains(at("2026-11-26 05:00")) and not window.contains(at("2026-11-26 00:59"))


def test_days_and_midnight_crossing() -> None:
    window = parse_window("Sat 22:00-02:00")  # 2026-11-28 is a Saturday
    assert window.contains(at("2026-11-28 23:00"))
    assert window.contains(at("2026-11-29 01:30"))  # Sunday morning, started Saturday
    assert not window.contains(at("2026-11-29 23:00"))
    assert not window.contains(at("2026-11-27 23:00"))


@pytest.mark.parametrize("text", ["", "25:00-01:00", "01:00-01:00", "Xyz 01:00-02:00", "1-2"])
def test_invalid_windows_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_window(text)


def test_in_any_window() -> None:
    assert in_any_window(["Mon 01:00-02:00", "12:00-13:00"], at("2026-11-26 12:30"))
    assert not in_any_window([], at("2026-11-26 12:30"))


def test_days_take_names_ranges_and_wrapping_ranges() -> None:
    assert parse_days(["Mon-Fri"]) == frozenset(range(5))
    assert parse_days(["fri-mon"]) == frozenset({4, 5, 6, 0})
    assert parse_days(["Sat", "sunday"]) == frozenset({5, 6})
    assert parse_days(["*"]) == frozenset(range(7))
    assert parse_window("Mon-Fri 01:00-05:00").days == frozenset(range(5))
