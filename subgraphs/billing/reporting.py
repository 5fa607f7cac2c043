"""The usage ledger reported to Stripe as meter events, by a billing cron: each use once (its
idempotency key is the event's identifier, which Stripe dedupes for 24 hours), the growth of a
router's hourly row again under a new identifier, and whatever failed tried again next run as
it was first sent (what a send covers is committed before it is sent)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from uuid import UUID

from core.caller import ANONYMOUS, Caller
from subgraphs.billing import repository
from subgraphs.billing.gateway import ProviderRefused, ProviderUnavailable, StripeGateway
from subgraphs.billing.models import UsageEvent
from subgraphs.kernel.db import Database, set_local, utcnow

log = logging.getLogger("vetrai.billing.reporting")
# Stripe accepts meter events of the last 35 days; an hour less leaves room for clocks.
REPORTABLE = timedelta(days=35) - timedelta(hours=1)
BATCH = 100
MAX_IDENTIFIER = 100  # Stripe's limit on a meter event's identifier


def identifier(event: UsageEvent) -> str:
    """The identifier of the row's send under way: the ledger's key for its first, and for the
    growth of a row reported before, the key with the quantity the send covers up to. A retry
    of a send keeps its identifier, which Stripe dedupes; each growth gets one of its own."""
    key = event.idempotency_key
    if event.reported_quantity:
        upto = event.quantity if event.sending_quantity is None else event.sending_quantity
        key = f"{key}:{upto}"
    if len(key) <= MAX_IDENTIFIER:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class MeterReporter:
    def __init__(self, db: Database, gateway: StripeGateway | None) -> None:
        self.db = db
        self.gateway = gateway

    async def report(self, now: datetime | None = None) -> int:
        """Send every organization's unreported use; how many meter events Stripe accepted.
        Stops at the first outage (the rest waits for the next run)."""
        if self.gateway is None:
            return 0
        async with self.db.transaction(ANONYMOUS) as session:
            await set_local(session, "app.billing_customers", "on")
            customers = await repository.customers(session)
        sent = 0
        try:
            for org_id, customer in customers:
                sent += await self._report_org(self.gateway, org_id, customer, now or utcnow())
        except ProviderUnavailable:
            log.warning("meter events not reported: the provider is unavailable")
        return sent

    async def _report_org(
        self, gateway: StripeGateway, org_id: UUID, customer: str, now: datetime
    ) -> int:
        sent, refused, down = 0, 0, False
        while not (down or refused):  # a refused use waits for the next run
            ids = await self._begin_sends(org_id)
            if not ids:
                break
            # Each batch commits what it sent, so a later outage keeps the marks made so far.
            async with self.db.transaction(Caller(org_id=org_id)) as session:
                for event in await repository.sending_usage(session, ids):
                    try:
                        sent += await self._send(gateway, customer, event, now)
                    except ProviderRefused:
                        refused += 1
                        continue
                    except ProviderUnavailable:
                        down = True
                        break
                    session.add(event)
        if refused:
            log.warning("meter events refused", extra={"fields": {"org_id": str(org_id)}})
        if down:
            raise ProviderUnavailable("meter events")
        return sent

    async def _begin_sends(self, org_id: UUID) -> list[UUID]:
        """The next batch of the organization's unreported uses, each marked with the quantity
        its send covers up to (a send under way keeps its own) and committed before anything
        is sent: a send whose answer is lost, even with the process, is repeated as it was."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            batch = await repository.unreported_usage(session, org_id, BATCH)
            for event in batch:
                if event.sending_quantity is None:
                    event.sending_quantity = event.quantity
                    session.add(event)
            return [event.id for event in batch]

    @staticmethod
    async def _send(gateway: StripeGateway, customer: str, event: UsageEvent, now: datetime) -> int:
        """Send the row's send under way (none for a use older than Stripe accepts); 1 if sent."""
        upto = event.quantity if event.sending_quantity is None else event.sending_quantity
        sent = 0
        if event.occurred_at < now - REPORTABLE:
            log.warning(
                "usage too old for Stripe skipped", extra={"fields": {"key": event.idempotency_key}}
            )
        else:
            await gateway.report_usage(
                event.meter,
                customer,
                upto - event.reported_quantity,
                identifier(event),
                int(event.occurred_at.timestamp()),
            )
            sent = 1
        event.reported_quantity, event.sending_quantity = upto, None
        return sent
