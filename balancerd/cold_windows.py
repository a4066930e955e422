"""Weekly time windows: cold-move windows (``[migration] maintenance_windows``, ``[DAYS ]HH:MM-HH:MM`` in
UTC, e.g. ``"Sat,Sun 01:00-05:00"`` or ``"22:00-02:00"``) and the days and times of blackout windows.

``config`` validates ``[migration] maintenance_windows`` with :func:`parse_window`; the executor asks
:func:`in_any_window` whether a cold move may happen now (clock seconds since the Unix epoch).
:mod:`balancerd.blackout` builds its windows from :func:`parse_days` and :func:`minutes_of` and asks
:meth:`Window.contains_local` with the local time of its time zone. Pure: no clock, no I/O; every module may
import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PATTERN = re.compile(r"^\s*(?:(?P<days>[A-Za-z*,-]+)\s+)?(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})\s*$")
_DAY_S = 86_400
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Mon = 0)


@dataclass(frozen=True, slots=True)
class Window:
    """Start days (0 = Monday) and start/end minutes of the day; ``end <= start`` crosses midnight."""

    days: frozenset[int]
    start_min: int
    end_min: int

    def contains(self, epoch_s: float) -> bool:
        """True when ``epoch_s`` (UTC) falls inside the window."""
        day = int(epoch_s // _DAY_S)
        minute = int(epoch_s % _DAY_S) // 60
        return self.contains_local((day + _EPOCH_WEEKDAY) % 7, minute)

    def contains_local(self, weekday: int, minute: int) -> bool:
        """True when ``minute`` of the day on ``weekday`` (0 = Monday), wall-clock time, is inside the window; a
        window that crosses midnight belongs to the day it starts on."""
        if self.end_min > self.start_min:
            return weekday in self.days and self.start_min <= minute < self.end_min
        started_today = weekday in self.days and minute >= self.start_min
        started_yesterday = (weekday - 1) % 7 in self.days and minute < self.end_min
        return started_today or started_yesterday


def minutes_of(text: str) -> int:
    """Minutes since midnight of ``HH:MM``; ValueError naming what is allowed."""
    parts = text.split(":")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not a time of day; write HH:MM (00:00..23:59)")
    hours, minutes = (int(part) for part in parts)
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00..23:59)")
    return hours * 60 + minutes


def _day(name: str) -> int:
    key = name.strip().lower()
    if len(key) < 3 or key[:3] not in DAYS:
        raise ValueError(f"unknown day {name!r}; use Mon..Sun, a range such as Mon-Fri, or *")
    return DAYS.index(key[:3])


def parse_days(items: Iterable[str]) -> frozenset[int]:
    """Weekdays (0 = Monday) from names, ranges (``Mon-Fri``, ``Fri-Mon`` wraps) and ``*`` (every day)."""
    days: set[int] = set()
    for item in items:
        if item.strip() == "*":
            return frozenset(range(7))
        first, _, last = item.partition("-")
        start = _day(first)
        stop = _day(last) if last else start
        days.update((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return frozenset(days)


def _days(text: str | None) -> frozenset[int]:
    return frozenset(range(7)) if text is None else parse_days(text.split(","))


def parse_window(text: str) -> Window:
    """A Window from ``[DAYS ]HH:MM-HH:MM``; ValueError saying what is allowed."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError("expected '[DAYS ]HH:MM-HH:MM' in UTC, e.g. 'Sat,Sun 01:00-05:00' or '22:00-02:00'")
    start, end = minutes_of(match["start"]), minutes_of(match["end"])
    if start == end:
        raise ValueError("a window needs a start and an end that differ")
    return Window(_days(match["days"]), start, end)


def in_any_window(windows: Iterable[str], epoch_s: float) -> bool:
    """True when ``epoch_s`` is inside one of ``windows`` (already validated by the config)."""
    return any(parse_window(text).contains(epoch_s) for text in windows)
