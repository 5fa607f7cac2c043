"""The SLA engine: a ticket's clocks (first response, next response, resolution) computed from
its event log on business hours, with a timeline naming the rule behind every change.

Pure functions: the same log and ``now`` always give the same clocks, so nothing drifts.
Rules: pending and on-hold pause resolution, never the response clocks; a reopened ticket
resumes resolution with its time used kept; next response runs only while a requester's
message is unanswered after the first reply; a priority, policy or calendar change keeps the
time used and counts what is left on the new target and hours. A clock warns at 80 % of its
target and breaches at 100 %; the log also keeps when each was notified (``alert``) and what
an escalation rule did (``escalated``), so a clock is notified once per run and the timeline
shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from subgraphs.support.calendar import ZERO, Calendar, add_business_time, business_time

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
CLOCKS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
PAUSING = frozenset({"pending", "on_hold"})
WARNING_SHARE = 0.8
WARNING = "warning"
BREACH = "breach"
DONE = frozenset({"resolved", "closed", "merged"})


@dataclass(frozen=True)
class Policy:
    name: str
    calendar: Calendar
    # seconds by priority, then by clock; a missing clock is not tracked
    targets: dict[str, dict[str, int]]

    def target(self, priority: str, clock: str) -> timedelta | None:
        seconds = self.targets.get(priority, {}).get(clock)
        return timedelta(seconds=seconds) if seconds else None

    def as_data(self) -> dict[str, Any]:
        """What a log event keeps of the policy, so the log alone explains the clocks."""
        cal = self.calendar
        return {
            "name": self.name,
            "timezone": cal.timezone.key,
            "hours": [[list(s) for s in spans] for spans in cal.hours],
            "holidays": sorted(d.isoformat() for d in cal.holidays),
            "targets": self.targets,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Policy:
        calendar = Calendar(
            ZoneInfo(data["timezone"]),
            tuple(tuple((s[0], s[1]) for s in spans) for spans in data["hours"]),
            frozenset(date.fromisoformat(d) for d in data["holidays"]),
        )
        return cls(data["name"], calendar, data["targets"])


@dataclass(frozen=True)
class Event:
    """``created {priority, policy}``, ``status {to}``, ``priority {to}``, ``reply {agent}``
    (public comments only), ``policy {policy}``, ``assignment_failed {reason}``,
    ``alert {clock, level, cycle, rule}``, ``escalated {clock, rule}``; ``policy`` is
    ``Policy.as_data()`` or None."""

    at: datetime
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Entry:
    at: datetime
    clock: str
    # START, PAUSE, RESUME, RECALCULATE, MET, BREACH, STOP, ASSIGNMENT_FAILED, WARNING,
    # BREACH_NOTIFIED, ESCALATE
    event: str
    rule: str
    used: timedelta
    left: timedelta | None


@dataclass
class Clock:
    name: str
    target: timedelta | None = None
    state: str = "idle"  # idle, running, paused, met, stopped
    used: timedelta = ZERO
    since: datetime | None = None
    due_at: datetime | None = None
    met_at: datetime | None = None
    breached_at: datetime | None = None
    # this run of the clock (a next response runs once per unanswered message)
    started_at: datetime | None = None
    warned_at: datetime | None = None  # when 80 % of the target was used
    warn_due_at: datetime | None = None  # when it will be, while running
    alerted: set[str] = field(default_factory=set)  # levels notified in this run

    @property
    def status(self) -> str:
        return "breached" if self.breached_at else self.state

    @property
    def left(self) -> timedelta | None:
        return max(self.target - self.used, ZERO) if self.target else None


@dataclass(frozen=True)
class Alert:
    """A warning or breach of a clock's run not notified yet."""

    clock: str
    level: str
    at: datetime
    cycle: str


@dataclass
class Sla:
    policy: str | None
    clocks: dict[str, Clock]
    timeline: list[Entry] = field(default_factory=list)
    calendar: Calendar | None = None

    def alerts(self) -> list[Alert]:
        """What is due to be notified: a breach, else a warning, of each live clock."""
        due = []
        for clock in self.clocks.values():
            if clock.state not in ("running", "paused") or clock.started_at is None:
                continue
            cycle = clock.started_at.isoformat()
            if clock.breached_at and BREACH not in clock.alerted:
                due.append(Alert(clock.name, BREACH, clock.breached_at, cycle))
            elif clock.warned_at and not clock.alerted:
                due.append(Alert(clock.name, WARNING, clock.warned_at, cycle))
        return due

    @property
    def next_alert_at(self) -> datetime | None:
        """When the next warning or breach falls due (in the past while one is waiting)."""
        times = [a.at for a in self.alerts()]
        for clock in self.clocks.values():
            if clock.state != "running":
                continue
            if clock.warn_due_at and not clock.alerted:
                times.append(clock.warn_due_at)
            if clock.due_at and BREACH not in clock.alerted:
                times.append(clock.due_at)
        return min(times, default=None)

    @property
    def breached(self) -> bool:
        return any(c.breached_at for c in self.clocks.values())

    @property
    def next_due_at(self) -> datetime | None:
        due = [c.due_at for c in self.clocks.values() if c.state == "running" and c.due_at]
        return min(due, default=None)

    @property
    def first_breach_at(self) -> datetime | None:
        return min((c.breached_at for c in self.clocks.values() if c.breached_at), default=None)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"


class _Run:
    """One pass over the log."""

    def __init__(self) -> None:
        self.policy: Policy | None = None
        self.priority = "normal"
        self.status = "new"
        self.answered = False  # an agent replied publicly at least once
        self.sla = Sla(None, {name: Clock(name) for name in CLOCKS})

    def note(self, at: datetime, clock: Clock, event: str, rule: str) -> None:
        self.sla.timeline.append(Entry(at, clock.name, event, rule, clock.used, clock.left))

    def advance(self, to: datetime) -> None:
        """Count business time of running clocks up to ``to``, noting breaches on the way."""
        if self.policy is None:
            return
        cal = self.policy.calendar
        for clock in self.sla.clocks.values():
            if clock.state != "running" or clock.since is None or to <= clock.since:
                continue
            used = clock.used + business_time(cal, clock.since, to)
            warn = clock.target * WARNING_SHARE if clock.target else None
            if warn and clock.warned_at is None and clock.used < warn <= used:
                clock.warned_at = add_business_time(cal, clock.since, warn - clock.used)
            if clock.target and clock.breached_at is None and clock.used < clock.target <= used:
                breach = add_business_time(cal, clock.since, clock.target - clock.used)
                clock.used, clock.breached_at = clock.target, breach
                self.note(breach, clock, "BREACH", f"{_hours(clock.target)} target passed")
            clock.used, clock.since = used, to

    def reckon(self, at: datetime) -> None:
        """Due dates of running clocks from what they have left, on the current hours."""
        for clock in self.sla.clocks.values():
            if clock.state == "running" and clock.target and self.policy:
                left = clock.target - clock.used
                clock.due_at = (
                    add_business_time(self.policy.calendar, at, left)
                    if left > ZERO
                    else clock.breached_at
                )
            elif clock.state != "met":
                clock.due_at = None
            clock.warn_due_at = None
            if clock.state == "running" and clock.target and self.policy and not clock.warned_at:
                left = clock.target * WARNING_SHARE - clock.used
                clock.warn_due_at = add_business_time(self.policy.calendar, at, left)

    def start(self, at: datetime, name: str, rule: str) -> None:
        clock = self.sla.clocks[name]
        clock.target = self.policy.target(self.priority, name) if self.policy else None
        if clock.target is None:
            return
        clock.state, clock.since, clock.used, clock.started_at = "running", at, ZERO, at
        clock.met_at = clock.breached_at = clock.warned_at = None
        clock.alerted = set()
        self.note(at, clock, "START", f"{rule}; {self._target_rule(clock)}")

    def _target_rule(self, clock: Clock) -> str:
        policy, target = self.policy, clock.target or ZERO
        if policy is None:
            return "no policy"
        tz = policy.calendar.timezone.key
        return (
            f"policy '{policy.name}' gives {self.priority} tickets "
            f"{_hours(target)} of business hours ({tz})"
        )

    def stop(self, at: datetime, name: str, event: str, rule: str) -> None:
        clock = self.sla.clocks[name]
        if clock.state not in ("running", "paused"):
            return
        clock.state = "met" if event == "MET" else "stopped"
        clock.met_at = at if event == "MET" else None
        self.note(at, clock, event, rule)

    def apply(self, event: Event) -> None:
        at, data = event.at, event.data
        getattr(self, f"_on_{event.kind}")(at, data)
        self.reckon(at)

    def _on_created(self, at: datetime, data: dict[str, Any]) -> None:
        self.priority = data["priority"]
        self.policy = Policy.from_data(data["policy"]) if data.get("policy") else None
        self.sla.policy = self.policy.name if self.policy else None
        self.start(at, FIRST_RESPONSE, "ticket created")
        self.start(at, RESOLUTION, "ticket created")

    def _on_reply(self, at: datetime, data: dict[str, Any]) -> None:
        if data["agent"]:
            self.answered = True
            self.stop(at, FIRST_RESPONSE, "MET", "first public reply by an agent")
            self.stop(at, NEXT_RESPONSE, "MET", "an agent answered the requester")
        elif (
            self.answered
            and self.status not in DONE
            and self.sla.clocks[NEXT_RESPONSE].state != "running"
        ):
            self.start(at, NEXT_RESPONSE, "the requester wrote after the first reply")

    def _on_status(self, at: datetime, data: dict[str, Any]) -> None:
        before, self.status = self.status, data["to"]
        resolution = self.sla.clocks[RESOLUTION]
        if self.status in DONE:
            self.stop(at, RESOLUTION, "MET", f"ticket {self.status}")
            for name in (FIRST_RESPONSE, NEXT_RESPONSE):
                self.stop(at, name, "STOP", f"ticket {self.status} before an answer")
            return
        paused = self.status in PAUSING
        if resolution.state == "running" and paused:
            resolution.state = "paused"
            self.note(at, resolution, "PAUSE", f"status {self.status} pauses resolution")
        elif resolution.state == "paused" and not paused:
            resolution.state, resolution.since = "running", at
            self.note(at, resolution, "RESUME", f"status {self.status}: time used kept")
        elif resolution.state == "met" and before in DONE:
            resolution.state = "paused" if paused else "running"
            resolution.since, resolution.met_at = at, None
            self.note(at, resolution, "RESUME", f"reopened from {before}: time used kept")

    def _on_assignment_failed(self, at: datetime, data: dict[str, Any]) -> None:
        self.sla.timeline.append(
            Entry(at, "assignment", "ASSIGNMENT_FAILED", data["reason"], ZERO, None)
        )

    def _on_alert(self, at: datetime, data: dict[str, Any]) -> None:
        clock = self.sla.clocks[data["clock"]]
        clock.alerted.add(data["level"])
        event = "WARNING" if data["level"] == WARNING else "BREACH_NOTIFIED"
        self.note(at, clock, event, data["rule"])

    def _on_escalated(self, at: datetime, data: dict[str, Any]) -> None:
        self.note(at, self.sla.clocks[data["clock"]], "ESCALATE", data["rule"])

    def _on_priority(self, at: datetime, data: dict[str, Any]) -> None:
        self.priority = data["to"]
        self._retarget(at, f"priority changed to {self.priority}")

    def _on_policy(self, at: datetime, data: dict[str, Any]) -> None:
        had_policy = self.policy is not None
        self.policy = Policy.from_data(data["policy"]) if data.get("policy") else None
        self.sla.policy = self.policy.name if self.policy else None
        if not had_policy and self.policy is not None and self.status not in DONE:
            self.start(at, FIRST_RESPONSE, "policy assigned")
            self.start(at, RESOLUTION, "policy assigned")
            return
        self._retarget(at, "policy or its calendar changed")

    def _retarget(self, at: datetime, why: str) -> None:
        for clock in self.sla.clocks.values():
            if clock.state not in ("running", "paused"):
                continue
            clock.target = self.policy.target(self.priority, clock.name) if self.policy else None
            if clock.target is None:
                clock.state = "stopped"
                self.note(at, clock, "STOP", f"{why}: no target for {self.priority}")
                continue
            if clock.warned_at is None and clock.used >= clock.target * WARNING_SHARE:
                clock.warned_at = at
            if clock.breached_at is None and clock.used >= clock.target:
                clock.breached_at = at
            rule = f"{why}: time used kept; {self._target_rule(clock)}"
            self.note(at, clock, "RECALCULATE", rule)
            if clock.breached_at == at:
                self.note(at, clock, "BREACH", f"{why}: time used already past the target")


def compute(events: list[Event], now: datetime) -> Sla:
    """The clocks of a ticket as of ``now`` from its events (in the order they happened)."""
    run = _Run()
    for event in sorted(events, key=lambda e: e.at):
        if event.at > now:
            break
        run.advance(event.at)
        run.apply(event)
    run.advance(now)
    run.reckon(now)
    run.sla.calendar = run.policy.calendar if run.policy else None
    return run.sla
