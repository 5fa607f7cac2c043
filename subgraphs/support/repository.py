"""The queries of support's service: tickets, their comments, attachments and event logs, SLA
policies and the per-organization ticket counter. Callers decide who may see what; row
security keeps every query inside the transaction's organization."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.support import sla
from subgraphs.support.models import (
    Attachment,
    BusinessCalendar,
    Comment,
    FieldDefinition,
    Rating,
    SlaPolicy,
    Ticket,
    TicketEvent,
)


async def locked_ticket(session: AsyncSession, ticket_id: UUID) -> Ticket | None:
    rows = await session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    return rows.first()


async def tickets_by_ids(session: AsyncSession, ids: list[UUID]) -> dict[UUID, Ticket]:
    if not ids:
        return {}
    rows = await session.exec(select(Ticket).where(col(Ticket.id).in_(ids)))
    return {t.id: t for t in rows}


async def next_number(session: AsyncSession, org_id: UUID) -> int:
    number = await session.exec(  # type: ignore[call-overload]
        text(
            "insert into support.ticket_counters (org_id, last) values (:org, 1)"
            " on conflict (org_id) do update set last = support.ticket_counters.last + 1"
            " returning last"
        ).bindparams(org=org_id)
    )
    return int(number.scalar_one())


async def ticket_page(
    session: AsyncSession,
    org_id: UUID,
    *,
    requester: UUID | None,
    where: Any,
    now: datetime,
    before: int | None,
    size: int,
) -> list[Ticket]:
    """Up to ``size + 1`` tickets, newest first, matching the filter ``where``."""
    query = select(Ticket).where(Ticket.org_id == org_id)
    if requester is not None:
        query = query.where(Ticket.requester_id == requester)
    if where.status is not None:
        query = query.where(Ticket.status == where.status.value)
    if where.assignee_id is not None:
        query = query.where(Ticket.assignee_id == where.assignee_id)
    if where.tag is not None:
        query = query.where(col(Ticket.tags).contains([where.tag.lower()]))
    if where.breached is not None:
        breached = col(Ticket.sla_breached_at).is_not(None) | (col(Ticket.sla_due_at) <= now)
        query = query.where(breached if where.breached else ~breached)
    if before is not None:
        query = query.where(Ticket.number < before)
    rows = await session.exec(query.order_by(col(Ticket.number).desc()).limit(size + 1))
    return list(rows)


async def tickets_of_users(
    session: AsyncSession, org_id: UUID, user_ids: list[UUID], *, assigned: bool
) -> list[Ticket]:
    column = col(Ticket.assignee_id if assigned else Ticket.requester_id)
    rows = await session.exec(
        select(Ticket)
        .where(Ticket.org_id == org_id, column.in_(user_ids))
        .order_by(col(Ticket.number).desc())
        .limit(100 * len(user_ids))
    )
    return list(rows)


async def events_by_ticket(
    session: AsyncSession, ticket_ids: list[UUID]
) -> dict[UUID, list[sla.Event]]:
    """Each ticket's log, in the order it happened (tickets without events absent)."""
    rows = await session.exec(
        select(TicketEvent)
        .where(col(TicketEvent.ticket_id).in_(ticket_ids))
        .order_by(col(TicketEvent.at))
    )
    found: dict[UUID, list[sla.Event]] = defaultdict(list)
    for row in rows:
        found[row.ticket_id].append(sla.Event(row.at, row.kind, row.data))
    return found


async def definitions(session: AsyncSession, org_id: UUID) -> list[FieldDefinition]:
    rows = await session.exec(select(FieldDefinition).where(FieldDefinition.org_id == org_id))
    return list(rows)


async def policies(session: AsyncSession, org_id: UUID) -> list[SlaPolicy]:
    rows = await session.exec(
        select(SlaPolicy).where(SlaPolicy.org_id == org_id).order_by(col(SlaPolicy.position))
    )
    return list(rows)


async def policies_with_calendars(
    session: AsyncSession, org_id: UUID
) -> list[tuple[SlaPolicy, BusinessCalendar]]:
    rows = await session.exec(
        select(SlaPolicy, BusinessCalendar)
        .join(BusinessCalendar, col(BusinessCalendar.id) == SlaPolicy.calendar_id)
        .where(SlaPolicy.org_id == org_id)
        .order_by(col(SlaPolicy.position))
    )
    return list(rows.all())


async def attached_files(session: AsyncSession, where: Any) -> list[Attachment]:
    rows = await session.exec(
        select(Attachment)
        .where(where, Attachment.status == "uploaded")
        .order_by(col(Attachment.created_at))
    )
    return list(rows)


async def move_thread(session: AsyncSession, source_id: UUID, target_id: UUID) -> None:
    """The source ticket's comments and attachments now belong to the target."""
    for table in (Comment, Attachment):
        await session.exec(
            update(table).where(col(table.ticket_id) == source_id).values(ticket_id=target_id)
        )


async def locked_rating(session: AsyncSession, hashed: str) -> Rating | None:
    rows = await session.exec(select(Rating).where(Rating.token_hash == hashed).with_for_update())
    return rows.first()


async def comments_of_tickets(
    session: AsyncSession, ticket_ids: list[UUID], *, internal: bool
) -> list[Comment]:
    """Oldest first; internal notes only with ``internal``."""
    query = select(Comment).where(col(Comment.ticket_id).in_(ticket_ids))
    if not internal:
        query = query.where(col(Comment.internal).is_(False))
    rows = await session.exec(query.order_by(col(Comment.created_at), col(Comment.id)))
    return list(rows)


async def comment_counts(
    session: AsyncSession, ticket_ids: list[UUID], *, internal: bool
) -> dict[UUID, int]:
    counted = func.count() if internal else func.count().filter(col(Comment.internal).is_(False))
    rows = await session.exec(
        select(Comment.ticket_id, counted)
        .where(col(Comment.ticket_id).in_(ticket_ids))
        .group_by(col(Comment.ticket_id))
    )
    return {ticket: int(count) for ticket, count in rows.all()}


async def comments_by_ids(session: AsyncSession, ids: list[UUID]) -> list[Comment]:
    return list(await session.exec(select(Comment).where(col(Comment.id).in_(ids))))
