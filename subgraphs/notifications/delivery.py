"""The worker's half of notifications: sending one queued delivery through its channel's
sender, retried with exponential backoff, or recorded as failed."""

from __future__ import annotations

from uuid import UUID

from core.caller import Caller
from subgraphs.kernel.db import Database, utcnow
from subgraphs.notifications import repository
from subgraphs.notifications.channels import DeliveryFailed, Sender
from subgraphs.notifications.models import Channel, Delivery, Status
from subgraphs.notifications.settings import Settings


class DeliveryService:
    def __init__(self, db: Database, settings: Settings, senders: dict[Channel, Sender]) -> None:
        self.db = db
        self.settings = settings
        self.senders = senders

    async def deliver(self, delivery_id: UUID, recipient: Caller) -> float | None:
        """Send one queued delivery; the seconds to wait before trying again, or None when done.

        The row stays locked while sending, so two workers never send it both.
        """
        async with self.db.transaction(recipient) as session:
            delivery = await repository.locked_delivery(session, delivery_id)
            if delivery is None or delivery.status != Status.QUEUED.value:
                return None
            delivery.attempts += 1
            delivery.updated_at = utcnow()
            session.add(delivery)
            try:
                await self.senders[Channel(delivery.channel)].send(delivery)
            except DeliveryFailed as exc:
                return self._failed(delivery, exc)
            delivery.status = Status.SENT.value
            delivery.sent_at = delivery.updated_at
            delivery.failure_reason = None
        return None

    def _failed(self, delivery: Delivery, exc: DeliveryFailed) -> float | None:
        delivery.failure_reason = str(exc)[:1000]
        if exc.permanent or delivery.attempts >= self.settings.notifications.delivery_max_attempts:
            delivery.status = Status.FAILED.value
            return None
        return float(
            self.settings.notifications.delivery_backoff_seconds * 2 ** (delivery.attempts - 1)
        )
