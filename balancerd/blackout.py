"""Blackout windows (``[[policy.blackout]]``): times in which balancerd starts no balancing moves, and what it
still starts inside them: nothing, drains only, or drains and restores.

``config`` validates every window with :func:`parse` when the config loads; the cycle
(:mod:`balancerd.service.limits`) asks :func:`in_force` which window holds at the snapshot's time and tells the
planner what may start, and the execution guard asks again right before each move, so a window that opens
while a plan runs stops the moves it does not allow. A window's days, start and end are wall-clock time in its
time zone (IANA names through :mod:`zoneinfo`, daylight saving included): "Mon-Fri 08:00-18:00
Europe/Berlin" is 07:00-17:00 UTC in winter and 06:00-16:00 UTC in summer. A window whose end is not after its
start crosses midnight and belongs to the day it starts on. Where windows overlap, the strictest holds. Pure
apart from reading the time zone database; every module may import it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from balancerd.cold_windows import Window, minutes_of, parse_days
from balancerd.model import Purpose

ALLOW_LEVELS: dict[str, frozenset[Purpose]] = {
    "nothing": frozenset(),
    "drains": frozenset({Purpose.DRAIN}),
    "drains+restores": frozenset({Purpose.DRAIN, Purpose.RESTORE}),
}
"""What each ``allow`` value of a window lets start inside it (repairs and balancing never do)."""


@dataclass(frozen=True, slots=True)
class Blackout:
    """One window: its weekly times in ``tz`` and what may start inside it."""

    window: Window
    tz: str
    allow: str
    text: str
    """How the operator wrote it, e.g. "Mon-Fri 08:00-18:00 Europe/Berlin" (for notes and logs)."""

    @property
    def allowed(self) -> frozenset[Purpose]:
        return ALLOW_LEVELS[self.allow]

    def contains(self, epoch_s: float) -> bool:
        """True when ``epoch_s`` falls inside the window, in its time zone's wall-clock time."""
        local = datetime.fromtimestamp(epoch_s, UTC).astimezone(_zone(self.tz))
        return self.window.contains_local(local.weekday(), local.hour * 60 + local.minute)

    def describe(self) -> str:
        what = {"nothing": "nothing starts", "drains": "only drains start",
                "drains+restores": "only drains and restores start"}[self.allow]
        return f"blackout window {self.text}: {what}"


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_zone(name: str) -> None:
    """ValueError when ``name`` is no time zone this machine knows."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Berlin") from exc


def parse(days: Iterable[str], start: str, end: str, tz: str, allow: str) -> Blackout:
    """A Blackout from a ``[[policy.blackout]]`` entry's keys; ValueError naming what is wrong."""
    day_list = tuple(days) or ("*",)
    begin, finish = minutes_of(start), minutes_of(end)
    if begin == finish:
        raise ValueError("a window needs a start and an end that differ")
    check_zone(tz)
    if allow not in ALLOW_LEVELS:
        raise ValueError(f"allow must be one of {', '.join(ALLOW_LEVELS)}")
    text = f"{','.join(day_list)} {start}-{end} {tz}"
    return Blackout(Window(parse_days(day_list), begin, finish), tz, allow, text)


def in_force(windows: Iterable[Blackout], epoch_s: float) -> Blackout | None:
    """The strictest window that holds at ``epoch_s`` (the one allowing least), or None outside all of them."""
    holding = [w for w in windows if w.contains(epoch_s)]
    return min(holding, key=lambda w: (len(w.allowed), w.text)) if holding else None
