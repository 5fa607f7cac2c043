"""Business-hours arithmetic, checked as properties over random calendars, timezones with DST
changes, holidays and instants, and on the DST days where wall time and real time differ."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from subgraphs.support.calendar import (
    DAY_MINUTES,
    Calendar,
    add_business_time,
    business_time,
    instant,
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
]
NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2025, 1, 1, tzinfo=UTC)


@st.composite
def spans(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    cuts = sorted(draw(st.sets(st.integers(0, DAY_MINUTES // 15), max_size=6)))
    cuts = [c * 15 for c in cuts[: len(cuts) // 2 * 2]]
    return tuple((cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = draw(st.lists(spans(), min_size=7, max_size=7).filter(any))
    holidays = draw(st.frozensets(st.dates(date(2024, 12, 1), date(2027, 3, 1)), max_size=40))
    return Calendar(ZoneInfo(draw(st.sampled_from(ZONES))), tuple(hours), holidays)


instants = st.integers(0, 2 * 365 * 86400 * 10**6).map(
    lambda us: START + timedelta(microseconds=us)
)
spans_of_time = st.integers(0, 40 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us))


def _due(calendar: Calendar, start: datetime, span: timedelta) -> datetime:
    """``add_business_time``, for the spans the calendar can use up within its horizon: 40 days
    of business time do not fit in three years of a quarter of an hour a week."""
    try:
        return add_business_time(calendar, start, span)
    except ValueError:
        reject()


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, spans_of_time)
def test_adding_business_time_then_measuring_it_gives_it_back(
    calendar: Calendar, start: datetime, span: timedelta
) -> None:
    end = _due(calendar, start, span)
    assert end >= start
    assert business_time(calendar, start, end) == span


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, spans_of_time)
def test_the_due_instant_is_the_first_at_which_the_span_is_used(
    calendar: Calendar, start: datetime, span: timedelta
) -> None:
    end = _due(calendar, start, span)
    if span:
        assert business_time(calendar, start, end - timedelta(microseconds=1)) < span


@settings(max_examples=300, deadline=None)
@given(calendars(), st.lists(instants, min_size=3, max_size=3))
def test_business_time_adds_up_over_consecutive_intervals(
    calendar: Calendar, moments: list[datetime]
) -> None:
    a, b, c = sorted(moments)
    whole = business_time(calendar, a, c)
    assert whole == business_time(calendar, a, b) + business_time(calendar, b, c)
    assert timedelta(0) <= whole <= c - a


@settings(max_examples=200, deadline=None)
@given(calendars(), st.dates(date(2025, 1, 2), date(2026, 12, 30)))
def test_holidays_and_closed_days_hold_no_business_time(calendar: Calendar, day: date) -> None:
    tz = calendar.timezone
    opens = instant(tz, datetime(day.year, day.month, day.day))
    closes = instant(tz, datetime(day.year, day.month, day.day) + timedelta(days=1))
    closed = day in calendar.holidays or not calendar.hours[day.weekday()]
    if closed:
        assert business_time(calendar, opens, closes) == timedelta(0)
    else:
        expected = sum(
            (
                instant(tz, datetime(day.year, day.month, day.day) + timedelta(minutes=e))
                - instant(tz, datetime(day.year, day.month, day.day) + timedelta(minutes=s))
                for s, e in calendar.hours[day.weekday()]
            ),
            timedelta(0),
        )
        assert business_time(calendar, opens, closes) == expected


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), instants, instants)
def test_a_calendar_always_open_counts_real_elapsed_time_across_dst(
    zone: str, a: datetime, b: datetime
) -> None:
    always = Calendar(ZoneInfo(zone), (((0, DAY_MINUTES),),) * 7)
    start, end = min(a, b), max(a, b)
    assert business_time(always, start, end) == end - start


def _night(zone: ZoneInfo) -> Calendar:
    return Calendar(zone, (((0, 6 * 60),),) * 7)


def test_hours_spanning_a_spring_forward_are_an_hour_shorter() -> None:
    calendar = _night(NEW_YORK)
    day = datetime(2026, 3, 8)
    assert business_time(
        calendar, instant(NEW_YORK, day), instant(NEW_YORK, day.replace(hour=6))
    ) == timedelta(hours=5)
    due = add_business_time(calendar, instant(NEW_YORK, day), timedelta(hours=4))
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 8, 5, 0)


def test_hours_spanning_a_fall_back_are_an_hour_longer() -> None:
    calendar = _night(NEW_YORK)
    day = datetime(2026, 11, 1)
    assert business_time(
        calendar, instant(NEW_YORK, day), instant(NEW_YORK, day.replace(hour=6))
    ) == timedelta(hours=7)
    due = add_business_time(calendar, instant(NEW_YORK, day), timedelta(hours=4))
    local = due.astimezone(NEW_YORK)
    assert (local.replace(tzinfo=None), local.utcoffset()) == (
        datetime(2026, 11, 1, 3, 0),
        timedelta(hours=-5),
    )


def test_a_wall_time_the_clock_skips_is_the_instant_it_jumps() -> None:
    jump = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert instant(NEW_YORK, datetime(2026, 3, 8, 2, 30)) == jump
    assert instant(NEW_YORK, datetime(2026, 3, 8, 2, 0)) == jump
    assert instant(NEW_YORK, datetime(2026, 3, 8, 3, 0)) == jump
    # an hour the clock shows twice starts at its first showing
    assert instant(NEW_YORK, datetime(2026, 11, 1, 1, 30)) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_a_span_opening_inside_a_skipped_hour_starts_when_the_clock_jumps() -> None:
    calendar = Calendar(NEW_YORK, (((150, 240),),) * 7)  # 02:30-04:00
    day = datetime(2026, 3, 8)
    opened = business_time(calendar, instant(NEW_YORK, day), instant(NEW_YORK, day.replace(hour=5)))
    assert opened == timedelta(hours=1)  # 03:00 (the jump) to 04:00
