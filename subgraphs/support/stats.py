"""Reports over SLA clocks and satisfaction ratings, replayed by the SLA engine from each
ticket's event log: how a draft policy would have scored the last 30 days of tickets, and an
organization's SLA met % and CSAT per agent and team. Owners and admins only."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.errors import ErrorCode, existing, require
from subgraphs.support import policies, repository, sla
from subgraphs.support.access import managed
from subgraphs.support.models import BusinessCalendar, Rating, Team, Ticket

PREVIEW_DAYS = 30
MAX_SPAN = timedelta(days=366)


@dataclass
class Score:
    """Clocks that ended met or breached (running ones are not counted), and ratings."""

    met: int = 0
    breached: int = 0
    ratings: list[int] = field(default_factory=list)

    def count(self, found: sla.Sla) -> None:
        for clock in found.clocks.values():
            if clock.target is None:
                continue
            if clock.breached_at:
                self.breached += 1
            elif clock.state == "met":
                self.met += 1

    @property
    def met_percent(self) -> float | None:
        done = self.met + self.breached
        return round(100 * self.met / done, 2) if done else None

    @property
    def csat_average(self) -> float | None:
        return round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None


@dataclass(frozen=True)
class Draft:
    calendar_id: UUID
    targets: dict[str, dict[str, int]]
    priorities: list[str]
    tags: list[str]


@dataclass(frozen=True)
class Preview:
    tickets: int
    score: Score
    breaches_by_team: list[tuple[Team | None, int]]


@dataclass(frozen=True)
class Stats:
    total: Score
    by_agent: dict[UUID, Score]
    by_team: list[tuple[Team, Score]]


def tally(
    scores: dict[Any, Score],
    keys: Iterable[Hashable | None],
    found: sla.Sla | None,
    rating: int | None,
) -> None:
    for key in keys:
        if key is None:
            continue
        score = scores.setdefault(key, Score())
        if found is not None:
            score.count(found)
        if rating is not None:
            score.ratings.append(rating)


def as_drafted(events: list[sla.Event], policy: dict[str, Any]) -> list[sla.Event]:
    """The log as if ``policy`` had been the ticket's from its creation."""
    return [
        sla.Event(e.at, e.kind, {**e.data, "policy": policy}) if e.kind == "created" else e
        for e in events
        if e.kind != "policy"
    ]


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _teams(self, session: AsyncSession, org_id: UUID) -> dict[UUID, Team]:
        rows = await session.exec(select(Team).where(Team.org_id == org_id))
        return {t.id: t for t in rows}

    async def preview(self, caller: Caller, org_id: UUID, draft: Draft) -> Preview:
        """How ``draft`` would have scored the tickets of the last 30 days it covers."""
        managed(caller, org_id)
        policies.check_targets(draft.targets)
        now = utcnow()
        async with self.db.transaction(caller) as session:
            calendar = await session.get(BusinessCalendar, draft.calendar_id)
            calendar = existing(
                calendar if calendar and calendar.org_id == org_id else None, "calendar"
            )
            policy = sla.Policy("draft", policies.calendar_of(calendar), draft.targets).as_data()
            rows = await session.exec(
                select(Ticket).where(
                    Ticket.org_id == org_id,
                    col(Ticket.created_at) >= now - timedelta(days=PREVIEW_DAYS),
                )
            )
            tickets = list(rows)
            logs = await repository.events_by_ticket(session, [t.id for t in tickets])
            teams = await self._teams(session, org_id)
        total, breaches = Score(), dict[UUID | None, int]()
        covered = 0
        for ticket in tickets:
            events = logs.get(ticket.id, [])
            created = next((e for e in events if e.kind == "created"), None)
            if created is None or not policies.covers(
                draft.priorities, draft.tags, created.data["priority"], ticket.tags
            ):
                continue
            covered += 1
            found = sla.compute(as_drafted(events, policy), now)
            total.count(found)
            if found.breached:
                breaches[ticket.team_id] = breaches.get(ticket.team_id, 0) + 1
        by_team = sorted(
            ((teams.get(t) if t else None, n) for t, n in breaches.items()),
            key=lambda pair: (-pair[1], pair[0].name if pair[0] else ""),
        )
        return Preview(covered, total, by_team)

    async def stats(self, caller: Caller, org_id: UUID, start: datetime, end: datetime) -> Stats:
        """Tickets created in ``[start, end)`` scored on their clocks as of now; ratings given
        in that span."""
        managed(caller, org_id)
        require(
            start < end and end - start <= MAX_SPAN,
            ErrorCode.INVALID_INPUT,
            "From before to, at most a year apart.",
            "to",
        )
        now = utcnow()
        async with self.db.transaction(caller) as session:
            rows = await session.exec(
                select(Ticket).where(
                    Ticket.org_id == org_id,
                    col(Ticket.created_at) >= start,
                    col(Ticket.created_at) < end,
                )
            )
            tickets = list(rows)
            logs = await repository.events_by_ticket(session, [t.id for t in tickets])
            rated = await session.exec(
                select(Rating, Ticket)
                .join(Ticket, col(Ticket.id) == Rating.ticket_id)
                .where(
                    Rating.org_id == org_id,
                    col(Rating.rated_at) >= start,
                    col(Rating.rated_at) < end,
                )
            )
            ratings = list(rated)
            teams = await self._teams(session, org_id)
        total, agents, by_team = Score(), dict[Any, Score](), dict[Any, Score]()
        for ticket in tickets:
            found = sla.compute(logs.get(ticket.id, []), now)
            total.count(found)
            tally(agents, [ticket.assignee_id], found, None)
            tally(by_team, [ticket.team_id], found, None)
        for rating, ticket in ratings:
            if rating.score is None:
                continue
            total.ratings.append(rating.score)
            tally(agents, [ticket.assignee_id], None, rating.score)
            tally(by_team, [ticket.team_id], None, rating.score)
        return Stats(
            total,
            agents,
            sorted(
                ((teams[t], s) for t, s in by_team.items() if t in teams), key=lambda p: p[0].name
            ),
        )
