"""SLA clocks from a ticket's event log, table-driven under a frozen clock: weekends,
holidays, DST, pauses and resumes, reopening, priority, policy and calendar changes; each
scenario also checks the timeline that explains the clocks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from subgraphs.support.calendar import DAY_MINUTES, Calendar
from subgraphs.support.sla import FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION, Event, Policy, compute

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = Calendar(
    BERLIN, (((540, 1020),),) * 5 + ((), ()), frozenset({date(2026, 12, 25)})
)  # Mon-Fri 09:00-17:00, Christmas off
HOURS = 3600
TARGETS = {
    "urgent": {FIRST_RESPONSE: HOURS // 2, RESOLUTION: 2 * HOURS},
    "high": {FIRST_RESPONSE: 2 * HOURS, NEXT_RESPONSE: HOURS, RESOLUTION: 8 * HOURS},
    "normal": {FIRST_RESPONSE: 4 * HOURS, RESOLUTION: 16 * HOURS},
    "low": {RESOLUTION: 4 * HOURS},
}
STANDARD = Policy("Standard", OFFICE, TARGETS)
ROUND_THE_CLOCK = Policy("Round the clock", Calendar(BERLIN, (((0, DAY_MINUTES),),) * 7), TARGETS)
MORNINGS = Policy("Mornings", Calendar(BERLIN, (((540, 720),),) * 5 + ((), ())), TARGETS)
NIGHTS_NY = Policy("Nights", Calendar(NEW_YORK, (((0, 360),),) * 7), TARGETS)


def at(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    """A Berlin wall time (December 2026: Tuesday the 1st)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def created(when: str, priority: str = "high", policy: Policy | None = STANDARD) -> Event:
    data = {"priority": priority, "policy": policy.as_data() if policy else None}
    zone = NEW_YORK if policy is NIGHTS_NY else BERLIN
    return Event(at(when, zone), "created", data)


def status(when: str, to: str) -> Event:
    return Event(at(when), "status", {"to": to})


def reply(when: str, agent: bool = True) -> Event:
    return Event(at(when), "reply", {"agent": agent})


def priority(when: str, to: str) -> Event:
    return Event(at(when), "priority", {"to": to})


def policy(when: str, new: Policy) -> Event:
    return Event(at(when), "policy", {"policy": new.as_data()})


@dataclass
class Case:
    name: str
    events: list[Event]
    now: str
    # clock -> (status, the instant that status is about: due, met or breach; paused: None)
    expect: dict[str, tuple[str, str | None]]
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (clock, event) in order
    zone: ZoneInfo = BERLIN


CASES = [
    Case(
        "due within the day",
        [created("2026-12-01 10:00")],
        "2026-12-01 10:30",
        {
            FIRST_RESPONSE: ("running", "2026-12-01 12:00"),
            RESOLUTION: ("running", "2026-12-02 10:00"),
        },
    ),
    Case(
        "due rolls over the closing hour",
        [created("2026-12-01 16:00")],
        "2026-12-01 16:00",
        {FIRST_RESPONSE: ("running", "2026-12-02 10:00")},
    ),
    Case(
        "weekend skipped",
        [created("2026-12-04 16:00")],
        "2026-12-04 16:00",
        {FIRST_RESPONSE: ("running", "2026-12-07 10:00")},
    ),
    Case(
        "created on a weekend starts at the opening",
        [created("2026-12-05 11:00")],
        "2026-12-05 11:00",
        {
            FIRST_RESPONSE: ("running", "2026-12-07 11:00"),
            RESOLUTION: ("running", "2026-12-07 17:00"),
        },
    ),
    Case(
        "holiday skipped",
        [created("2026-12-24 16:00")],
        "2026-12-24 16:00",
        {FIRST_RESPONSE: ("running", "2026-12-28 10:00")},
    ),
    Case(
        "created at night",
        [created("2026-12-01 23:00")],
        "2026-12-02 08:00",
        {FIRST_RESPONSE: ("running", "2026-12-02 11:00")},
    ),
    Case(
        "first reply meets first response",
        [created("2026-12-01 10:00"), reply("2026-12-01 11:00")],
        "2026-12-01 13:00",
        {FIRST_RESPONSE: ("met", "2026-12-01 11:00"), RESOLUTION: ("running", "2026-12-02 10:00")},
        [(FIRST_RESPONSE, "START"), (RESOLUTION, "START"), (FIRST_RESPONSE, "MET")],
    ),
    Case(
        "no reply breaches at the due instant",
        [created("2026-12-01 10:00")],
        "2026-12-01 13:00",
        {FIRST_RESPONSE: ("breached", "2026-12-01 12:00")},
        [(FIRST_RESPONSE, "START"), (RESOLUTION, "START"), (FIRST_RESPONSE, "BREACH")],
    ),
    Case(
        "a late reply keeps the breach",
        [created("2026-12-01 10:00"), reply("2026-12-01 14:00")],
        "2026-12-01 15:00",
        {FIRST_RESPONSE: ("breached", "2026-12-01 12:00")},
    ),
    Case(
        "pending pauses resolution",
        [created("2026-12-01 10:00"), status("2026-12-01 11:00", "pending")],
        "2026-12-03 17:00",
        {RESOLUTION: ("paused", None)},
        [
            (FIRST_RESPONSE, "START"),
            (RESOLUTION, "START"),
            (RESOLUTION, "PAUSE"),
            (FIRST_RESPONSE, "BREACH"),
        ],
    ),
    Case(
        "pending does not pause first response",
        [created("2026-12-01 10:00"), status("2026-12-01 10:30", "pending")],
        "2026-12-01 12:30",
        {FIRST_RESPONSE: ("breached", "2026-12-01 12:00")},
    ),
    Case(
        "resume keeps the time used",
        [
            created("2026-12-01 10:00"),
            status("2026-12-01 11:00", "pending"),
            status("2026-12-02 09:00", "open"),
        ],
        "2026-12-02 09:00",
        {RESOLUTION: ("running", "2026-12-02 16:00")},
    ),
    Case(
        "on hold pauses like pending",
        [
            created("2026-12-01 10:00"),
            status("2026-12-01 12:00", "on_hold"),
            status("2026-12-03 09:00", "open"),
        ],
        "2026-12-03 09:00",
        {RESOLUTION: ("running", "2026-12-03 15:00")},
    ),
    Case(
        "pending to on hold stays paused",
        [
            created("2026-12-01 10:00"),
            status("2026-12-01 11:00", "pending"),
            status("2026-12-01 12:00", "on_hold"),
        ],
        "2026-12-04 12:00",
        {RESOLUTION: ("paused", None)},
    ),
    Case(
        "resolving meets resolution",
        [
            created("2026-12-01 10:00"),
            reply("2026-12-01 10:10"),
            status("2026-12-01 15:00", "resolved"),
        ],
        "2026-12-09 10:00",
        {RESOLUTION: ("met", "2026-12-01 15:00"), FIRST_RESPONSE: ("met", "2026-12-01 10:10")},
    ),
    Case(
        "reopening resumes with the time used kept",
        [
            created("2026-12-01 10:00"),
            status("2026-12-01 15:00", "resolved"),
            status("2026-12-02 09:00", "open"),
        ],
        "2026-12-02 09:00",
        {RESOLUTION: ("running", "2026-12-02 12:00")},
        [
            (FIRST_RESPONSE, "START"),
            (RESOLUTION, "START"),
            (FIRST_RESPONSE, "BREACH"),
            (RESOLUTION, "MET"),
            (FIRST_RESPONSE, "STOP"),
            (RESOLUTION, "RESUME"),
        ],
    ),
    Case(
        "reopening into pending stays paused",
        [
            created("2026-12-01 10:00"),
            status("2026-12-01 15:00", "resolved"),
            status("2026-12-02 09:00", "pending"),
        ],
        "2026-12-08 09:00",
        {RESOLUTION: ("paused", None)},
    ),
    Case(
        "closing before an answer stops first response",
        [created("2026-12-01 10:00"), status("2026-12-01 10:30", "closed")],
        "2026-12-02 10:00",
        {FIRST_RESPONSE: ("stopped", None), RESOLUTION: ("met", "2026-12-01 10:30")},
    ),
    Case(
        "a priority change keeps the time used",
        [created("2026-12-01 10:00", "normal"), priority("2026-12-01 11:00", "high")],
        "2026-12-01 11:00",
        {FIRST_RESPONSE: ("running", "2026-12-01 12:00")},
        [
            (FIRST_RESPONSE, "START"),
            (RESOLUTION, "START"),
            (FIRST_RESPONSE, "RECALCULATE"),
            (RESOLUTION, "RECALCULATE"),
        ],
    ),
    Case(
        "a priority change past the new target breaches at once",
        [created("2026-12-01 10:00", "normal"), priority("2026-12-01 13:00", "urgent")],
        "2026-12-01 13:00",
        {
            FIRST_RESPONSE: ("breached", "2026-12-01 13:00"),
            RESOLUTION: ("breached", "2026-12-01 13:00"),
        },
    ),
    Case(
        "a priority without a target stops that clock",
        [created("2026-12-01 10:00", "high"), priority("2026-12-01 11:00", "low")],
        "2026-12-01 11:00",
        {FIRST_RESPONSE: ("stopped", None), RESOLUTION: ("running", "2026-12-01 14:00")},
    ),
    Case(
        "a policy change counts what is left on the new hours",
        [created("2026-12-01 16:00"), policy("2026-12-01 16:30", ROUND_THE_CLOCK)],
        "2026-12-01 16:30",
        {FIRST_RESPONSE: ("running", "2026-12-01 18:00")},
    ),
    Case(
        "a calendar change keeps time used",
        [created("2026-12-01 11:00"), policy("2026-12-01 11:30", MORNINGS)],
        "2026-12-01 11:30",
        {FIRST_RESPONSE: ("running", "2026-12-02 10:00")},
    ),
    Case(
        "next response waits for the first reply",
        [created("2026-12-01 10:00"), reply("2026-12-01 10:30", agent=False)],
        "2026-12-01 10:30",
        {FIRST_RESPONSE: ("running", "2026-12-01 12:00"), NEXT_RESPONSE: ("idle", None)},
    ),
    Case(
        "next response runs while the requester waits",
        [
            created("2026-12-01 10:00"),
            reply("2026-12-01 10:30"),
            reply("2026-12-01 11:00", agent=False),
        ],
        "2026-12-01 11:00",
        {NEXT_RESPONSE: ("running", "2026-12-01 12:00")},
    ),
    Case(
        "an agent's answer meets next response",
        [
            created("2026-12-01 10:00"),
            reply("2026-12-01 10:30"),
            reply("2026-12-01 11:00", agent=False),
            reply("2026-12-01 11:30"),
        ],
        "2026-12-01 16:00",
        {NEXT_RESPONSE: ("met", "2026-12-01 11:30")},
    ),
    Case(
        "an unanswered requester breaches next response",
        [
            created("2026-12-01 10:00"),
            reply("2026-12-01 10:30"),
            reply("2026-12-01 16:30", agent=False),
        ],
        "2026-12-02 10:00",
        {NEXT_RESPONSE: ("breached", "2026-12-02 09:30")},
    ),
    Case(
        "a second message does not restart a running next response",
        [
            created("2026-12-01 10:00"),
            reply("2026-12-01 10:30"),
            reply("2026-12-01 11:00", agent=False),
            reply("2026-12-01 11:45", agent=False),
        ],
        "2026-12-01 11:45",
        {NEXT_RESPONSE: ("running", "2026-12-01 12:00")},
    ),
    Case(
        "no policy, no clocks",
        [created("2026-12-01 10:00", policy=None)],
        "2026-12-09 10:00",
        {FIRST_RESPONSE: ("idle", None), RESOLUTION: ("idle", None)},
    ),
    Case(
        "a policy assigned later starts the clocks then",
        [created("2026-12-01 10:00", policy=None), policy("2026-12-01 14:00", STANDARD)],
        "2026-12-01 14:00",
        {FIRST_RESPONSE: ("running", "2026-12-01 16:00")},
    ),
    Case(
        "spring forward inside the hours",
        [created("2026-03-08 00:00", "low", NIGHTS_NY)],
        "2026-03-08 00:00",
        {RESOLUTION: ("running", "2026-03-08 05:00")},
        zone=NEW_YORK,
    ),
    Case(
        "fall back inside the hours",
        [created("2026-11-01 00:00", "low", NIGHTS_NY)],
        "2026-11-01 00:00",
        {RESOLUTION: ("running", "2026-11-01 03:00-05:00")},
        zone=NEW_YORK,
    ),
]


def _instant(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text) if "+" in text or text.count("-") > 2 else at(text, zone)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_clocks(case: Case) -> None:
    sla = compute(case.events, at(case.now, case.zone))
    for name, (expected, moment) in case.expect.items():
        clock = sla.clocks[name]
        assert clock.status == expected, (name, sla.timeline)
        if moment is None:
            continue
        about = {"running": clock.due_at, "met": clock.met_at, "breached": clock.breached_at}
        assert about[expected] == _instant(moment, case.zone), (name, sla.timeline)
    if case.timeline:
        assert [(e.clock, e.event) for e in sla.timeline] == case.timeline
    assert all(e.rule for e in sla.timeline)


def test_the_timeline_names_the_rule_and_the_time_left() -> None:
    events = [created("2026-12-01 10:00"), status("2026-12-01 11:00", "pending")]
    pause = compute(events, at("2026-12-01 11:00")).timeline[-1]
    assert (pause.clock, pause.event) == (RESOLUTION, "PAUSE")
    assert pause.rule == "status pending pauses resolution"
    assert pause.used == timedelta(hours=1)
    assert pause.left == timedelta(hours=7)
    start = compute(events, at("2026-12-01 11:00")).timeline[0]
    assert "policy 'Standard' gives high tickets 2h of business hours (Europe/Berlin)" in start.rule


def test_clocks_depend_only_on_the_log_and_now() -> None:
    events = [
        created("2026-12-01 10:00"),
        reply("2026-12-01 10:30"),
        status("2026-12-01 11:00", "pending"),
    ]
    first = compute(events, at("2026-12-02 10:00"))
    again = compute(list(reversed(events)), at("2026-12-02 10:00"))
    assert first == again
    assert compute(events, at("2026-12-01 10:15")).clocks[FIRST_RESPONSE].state == "running"


def test_two_hundred_events_are_computed(capsys: Any) -> None:
    events = [created("2026-12-01 10:00")]
    moment = at("2026-12-01 10:00")
    for i in range(199):
        moment += timedelta(minutes=37)
        when = moment.strftime("%Y-%m-%d %H:%M")
        if i % 3 == 0:
            events.append(status(when, ["pending", "open"][i // 3 % 2]))
        else:
            events.append(reply(when, agent=i % 2 == 0))
    started = time.perf_counter()
    sla = compute(events, moment)
    elapsed = time.perf_counter() - started
    assert len(sla.timeline) > 100
    print(f"200 events: {elapsed * 1000:.1f} ms")
