"""Who gets a ticket: round-robin inside a team among available agents under their capacity of
open tickets; nobody eligible means nobody, said so, never a silent pick."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import utcnow
from subgraphs.support import eventlog, notices
from subgraphs.support.models import Agent, Team, TeamMember, Ticket
from subgraphs.support.sla import DONE

NEVER = datetime.min


async def open_load(
    session: AsyncSession, org_id: UUID, user_ids: Iterable[UUID]
) -> dict[UUID, int]:
    """How many unfinished tickets each user holds."""
    rows = await session.exec(
        select(Ticket.assignee_id, func.count())
        .where(
            Ticket.org_id == org_id,
            col(Ticket.assignee_id).in_(list(user_ids)),
            col(Ticket.status).not_in(sorted(DONE)),
        )
        .group_by(col(Ticket.assignee_id))
    )
    return {user: int(count) for user, count in rows.all() if user}


def next_agent(
    members: list[tuple[TeamMember, Agent]], load: dict[UUID, int], excluding: UUID | None = None
) -> TeamMember | None:
    """The eligible member assigned longest ago (never assigned first), or None."""
    eligible = [
        member
        for member, agent in members
        if agent.available
        and load.get(member.user_id, 0) < agent.capacity
        and member.user_id != excluding
    ]
    return min(
        eligible,
        key=lambda m: (
            m.last_assigned_at.replace(tzinfo=None) if m.last_assigned_at else NEVER,
            str(m.user_id),
        ),
        default=None,
    )


async def team_members(session: AsyncSession, team_id: UUID) -> list[tuple[TeamMember, Agent]]:
    rows = await session.exec(
        select(TeamMember, Agent)
        .join(
            Agent,
            (col(Agent.org_id) == TeamMember.org_id) & (col(Agent.user_id) == TeamMember.user_id),
        )
        .where(TeamMember.team_id == team_id)
        .with_for_update(of=TeamMember)
    )
    return list(rows.all())


async def team_admins(session: AsyncSession, team_id: UUID) -> list[UUID]:
    rows = await session.exec(
        select(TeamMember.user_id).where(TeamMember.team_id == team_id, col(TeamMember.admin))
    )
    return sorted(rows.all(), key=str)


async def assign(
    session: AsyncSession, ticket: Ticket, team: Team, *, link: str, excluding: UUID | None = None
) -> UUID | None:
    """Give ``ticket`` to the team's next eligible agent (other than ``excluding``); with
    nobody eligible it stays unassigned, its timeline says why and the team's admins hear."""
    members = await team_members(session, team.id)
    load = await open_load(session, ticket.org_id, [m.user_id for m, _ in members])
    chosen = next_agent(members, load, excluding)
    ticket.team_id, ticket.assignee_id = team.id, chosen.user_id if chosen else None
    session.add(ticket)
    if chosen is not None:
        chosen.last_assigned_at = utcnow()
        session.add(chosen)
        return chosen.user_id
    reason = f"nobody in {team.name} is available under their capacity"
    found = await eventlog.record(session, ticket, "assignment_failed", {"reason": reason})
    failures = sum(1 for e in found.timeline if e.event == "ASSIGNMENT_FAILED")
    await notices.tell(
        session,
        ticket,
        await team_admins(session, team.id),
        title="could not be assigned",
        body=f"Ticket #{ticket.number} ({ticket.title}) is unassigned: {reason}.",
        key=f"assignment_failed:{ticket.id}:{failures}",
        link=link,
    )
    return None
