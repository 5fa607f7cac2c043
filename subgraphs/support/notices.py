"""Messages support sends agents about a ticket (SLA warnings and breaches, escalations, failed
assignments), through the notifications contract in the transaction of the change."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.notifications.contract import NotificationRequest, Recipient, stage_notification
from subgraphs.support.models import Ticket

MESSAGE_TEMPLATE = "message"


async def tell(
    session: AsyncSession,
    ticket: Ticket,
    recipients: Sequence[UUID],
    *,
    title: str,
    body: str,
    key: str,
    link: str,
) -> None:
    """Notify ``recipients`` (in the app and by email) once per ``key``."""
    if not recipients:
        return
    await stage_notification(
        session,
        NotificationRequest(
            template_key=MESSAGE_TEMPLATE,
            category="ticket",
            recipients=[Recipient(user_id=u) for u in dict.fromkeys(recipients)],
            idempotency_key=f"support:{key}",
            data={"title": f"#{ticket.number} {title}", "body": f"{body}\n\n{link}"},
            channels=["in_app", "email"],
            org_id=ticket.org_id,
        ),
    )
