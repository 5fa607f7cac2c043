"""The usage ledger reported to Stripe as meter events, by a billing cron: each use once (its
idempotency key is the event's identifier, which Stripe dedupes for 24 hours), the growth of a
router's hourly row again under a new identifier, and whatever failed tried again next run."""

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
    """The meter event's identifier: the ledger's key, and for a row that grew since it was
    reported, the key with the quantity it grew to (one identifier per state of the row)."""
    key = event.idempotency_key
    if event.reported_quantity:
        key = f"{key}:{event.quantity}"
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
        while not down:
            # Each batch commits what it sent, so a later outage keeps the marks made so far.
            async with self.db.transaction(Caller(org_id=org_id)) as session:
                batch = await repository.unreported_usage(session, org_id, BATCH)
                for event in batch:
                    if event.occurred_at < now - REPORTABLE:
                        log.warning(
                            "usage too old for Stripe skipped",
                            extra={"fields": {"key": event.idempotency_key}},
                        )
                    else:
                        try:
                            await self._send(gateway, customer, event)
                        except ProviderRefused:
                            refused += 1
                            continue
                        except ProviderUnavailable:
                            down = True
                            break
                        sent += 1
                    event.reported_quantity = event.quantity
                    session.add(event)
            if len(batch) < BATCH or refused:  # a refused use waits for the next run
                break
        if refused:
            log.warning("meter events refused", extra={"fields": {"org_id": str(org_id)}})
        if down:
            raise ProviderUnavailable("meter events")
        return sent

    @staticmethod
    async def _send(gateway: StripeGateway, customer: str, event: UsageEvent) -> None:
        await gateway.report_usage(
            event.meter,
            customer,
            event.quantity - event.reported_quantity,
            identifier(event),
            int(event.occurred_at.timestamp()),
        )
