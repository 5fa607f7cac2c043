"""A ticket's event log: appending an event, and the ticket's columns derived from its clocks
(next due date, first breach, next alert) brought up to date from the whole log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import utcnow
from subgraphs.support import repository, sla
from subgraphs.support.models import Ticket, TicketEvent


async def clocks(session: AsyncSession, ticket: Ticket, now: datetime) -> sla.Sla:
    logs = await repository.events_by_ticket(session, [ticket.id])
    return sla.compute(logs.get(ticket.id, []), now)


def derive(ticket: Ticket, found: sla.Sla) -> None:
    ticket.sla_due_at, ticket.sla_breached_at = found.next_due_at, found.first_breach_at
    ticket.sla_alert_at = found.next_alert_at


async def record(session: AsyncSession, ticket: Ticket, kind: str, data: dict[str, Any]) -> sla.Sla:
    """Append an event and bring the ticket's derived SLA columns up to date."""
    now = utcnow()
    session.add(
        TicketEvent(org_id=ticket.org_id, ticket_id=ticket.id, at=now, kind=kind, data=data)
    )
    await session.flush()
    found = await clocks(session, ticket, now)
    derive(ticket, found)
    ticket.updated_at = now
    session.add(ticket)
    return found
