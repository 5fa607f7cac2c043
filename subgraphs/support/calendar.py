"""Business-hours arithmetic on a calendar (IANA timezone, weekly hours, holidays): how much
business time lies between two instants, and which instant a span of business time ends at.

Hours are wall-clock: a day open 09:00-17:00 is open from the first instant the local clock
shows 09:00 to the first instant it shows 17:00, so a DST change inside the hours lengthens or
shortens that day by the change; a wall time the clock skips maps to the instant it jumps.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60
# A calendar whose holidays cover this long has, for our purposes, no business hours left.
HORIZON_DAYS = 3 * 366
ZERO = timedelta(0)


@dataclass(frozen=True)
class Calendar:
    """``hours[weekday]``: opening spans in minutes of the day, Monday first, sorted, disjoint."""

    timezone: ZoneInfo
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.hours) != 7 or not any(self.hours):
            raise ValueError("a calendar needs seven weekdays and some opening hours")
        for spans in self.hours:
            end = 0
            for start, stop in spans:
                if not end <= start < stop <= DAY_MINUTES:
                    raise ValueError(f"opening spans must be sorted and disjoint: {spans}")
                end = stop


def instant(tz: ZoneInfo, wall: datetime) -> datetime:
    """The first instant at which the clock of ``tz`` shows ``wall`` (naive) or later."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # ``wall`` falls in a gap: the clock jumps (at a whole second) between the two readings.
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    low, high = min(low, high), max(low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@functools.lru_cache(maxsize=65536)
def open_spans(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The business spans of local ``day``, as UTC instants."""
    if day in calendar.holidays:
        return ()
    midnight = datetime(day.year, day.month, day.day)
    spans = []
    for start, stop in calendar.hours[day.weekday()]:
        opens = instant(calendar.timezone, midnight + timedelta(minutes=start))
        closes = instant(calendar.timezone, midnight + timedelta(minutes=stop))
        if opens < closes:
            spans.append((opens, closes))
    return tuple(spans)


def _local_day(calendar: Calendar, at: datetime) -> date:
    return at.astimezone(calendar.timezone).date()


def business_time(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """Business time in ``[start, end)``; zero when ``end`` is not after ``start``."""
    if end <= start:
        return ZERO
    total = ZERO
    day = _local_day(calendar, start) - timedelta(days=1)
    last = _local_day(calendar, end) + timedelta(days=1)
    while day <= last:
        for opens, closes in open_spans(calendar, day):
            low, high = max(opens, start), min(closes, end)
            if low < high:
                total += high - low
        day += timedelta(days=1)
    return total


def add_business_time(calendar: Calendar, start: datetime, span: timedelta) -> datetime:
    """The instant at which ``span`` of business time counted from ``start`` is used up."""
    if span <= ZERO:
        return start
    left = span
    day = _local_day(calendar, start) - timedelta(days=1)
    for _ in range(HORIZON_DAYS):
        for opens, closes in open_spans(calendar, day):
            low = max(opens, start)
            if low >= closes:
                continue
            if left <= closes - low:
                return low + left
            left -= closes - low
        day += timedelta(days=1)
    raise ValueError("the calendar has no business hours in the next three years")
