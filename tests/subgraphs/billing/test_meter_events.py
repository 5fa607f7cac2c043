"""The usage ledger reported to Stripe as meter events by billing's cron: each use once under
its idempotency key, a router row's late growth once more, nothing lost while Stripe is down,
nothing older than Stripe accepts, and only organizations with a Stripe customer.

The Stripe-compatible test server has no meters, so the cron runs against a gateway that
records meter events and otherwise is the real one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.contract import hourly_requests_key
from subgraphs.billing.gateway import (
    ProviderRefused,
    ProviderUnavailable,
    StripeGateway,
    gateway_for,
)
from subgraphs.billing.ledger import hour_of, router_key
from subgraphs.billing.reporting import MeterReporter
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.kernel.usage import UsageRecord
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner, until
from tests.subgraphs.billing.test_subscriptions import start
from vetrai.embedded_stripe import SECRET_KEY
from vetrai.settings import PlatformSettings


@dataclass(frozen=True)
class Sent:
    meter: str
    customer: str
    value: int
    identifier: str
    timestamp: int


class RecordingGateway(StripeGateway):
    """The real gateway, except that meter events are recorded as Stripe keeps them, once per
    identifier (none while ``down``, and those whose identifier is in ``refused`` are
    refused); an event to a customer in ``lost`` is kept but its answer lost with that error."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__(SECRET_KEY, api_base)
        self.sent: list[Sent] = []
        self.down = False
        self.lost: dict[str, type[Exception]] = {}
        self.refused: set[str] = set()

    async def report_usage(
        self, meter: str, customer: str, value: int, identifier: str, timestamp: int
    ) -> None:
        if self.down:
            raise ProviderUnavailable("down")
        if identifier in self.refused:
            raise ProviderRefused("no such meter")
        if all(s.identifier != identifier for s in self.sent):
            self.sent.append(Sent(meter, customer, value, identifier, timestamp))
        if customer in self.lost:
            raise self.lost[customer]("the answer was lost")

    def to(self, customer: str) -> list[Sent]:
        return [s for s in self.sent if s.customer == customer]


@pytest.fixture
async def service(billing_settings: PlatformSettings) -> AsyncIterator[BillingService]:
    assert billing_settings.core.redis_url
    db = Database(billing_settings.core.login_url("billing"))
    redis = Redis.from_url(billing_settings.core.redis_url)
    gateway = RecordingGateway(billing_settings.billing.stripe_api_base)
    yield BillingService(db, redis, billing_settings, gateway)
    await redis.aclose()
    await db.close()


def recorded(service: BillingService) -> RecordingGateway:
    gateway = service.meter_reports.gateway
    assert isinstance(gateway, RecordingGateway)
    return gateway


async def _customer(owner_engine: AsyncEngine, org_id: UUID) -> str:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select stripe_customer_id from billing.accounts where org_id = :org"),
            {"org": org_id},
        )
    assert found
    return str(found)


async def _subscribed(billing: SignedClient, owner_engine: AsyncEngine) -> tuple[UUID, str]:
    caller = owner()
    assert caller.org_id
    assert (await start(billing, caller))["errors"] == []
    return caller.org_id, await _customer(owner_engine, caller.org_id)


async def test_each_use_is_reported_once_under_its_key(
    billing: SignedClient, service: BillingService, owner_engine: AsyncEngine
) -> None:
    org, customer = await _subscribed(billing, owner_engine)
    at = utcnow().replace(microsecond=0) - timedelta(hours=1)
    await service.ledger.record(UsageRecord(org, "tickets", 3, at, f"ticket:{uuid4()}"))
    key = f"job:{uuid4()}"
    await service.ledger.record(UsageRecord(org, "jobs", 2, at, key))
    gateway = recorded(service)

    assert await service.meter_reports.report() >= 2
    sent = sorted(gateway.to(customer), key=lambda s: s.meter)
    assert [(s.meter, s.value, s.timestamp) for s in sent] == [
        ("jobs", 2, int(at.timestamp())),
        ("tickets", 3, int(at.timestamp())),
    ]
    assert sent[0].identifier == key
    await service.meter_reports.report()  # the next run: nothing new
    assert len(gateway.to(customer)) == 2


async def test_a_router_row_that_grew_reports_only_its_growth(
    billing: SignedClient, service: BillingService, owner_engine: AsyncEngine
) -> None:
    org, customer = await _subscribed(billing, owner_engine)
    hour = hour_of(utcnow()) - timedelta(hours=3)
    name = hourly_requests_key(str(org), hour)
    gateway = recorded(service)
    for count in (7, 9):  # two more requests counted after the first flush
        await service.redis.set(name, count)

        async def flushed() -> bool:
            await service.ledger.flush_requests()
            return not await service.redis.exists(name)

        await until(flushed, "the counter flushed")
        await service.meter_reports.report()
    key = router_key(org, hour)
    assert [(s.identifier, s.value) for s in gateway.to(customer)] == [(key, 7), (f"{key}:9", 2)]


class Killed(Exception):
    """The reporting process ended mid-send (its transaction is rolled back)."""


@pytest.mark.parametrize("lost_by", [ProviderUnavailable, Killed])
async def test_a_send_whose_answer_was_lost_is_repeated_as_it_was_before_the_growth(
    billing: SignedClient,
    service: BillingService,
    owner_engine: AsyncEngine,
    lost_by: type[Exception],
) -> None:
    """Stripe kept the first send but its answer was lost (a timeout, or the process ended),
    and the row grew before the retry: the retry carries the first send's identifier and
    value (Stripe drops it as a duplicate), the growth an identifier of its own, so Stripe
    counts every request once."""
    org, customer = await _subscribed(billing, owner_engine)
    hour = hour_of(utcnow()) - timedelta(hours=3)
    name = hourly_requests_key(str(org), hour)
    gateway = recorded(service)

    async def flushed() -> bool:
        await service.ledger.flush_requests()
        return not await service.redis.exists(name)

    await service.redis.set(name, 7)
    await until(flushed, "the counter flushed")
    gateway.lost[customer] = lost_by
    if lost_by is Killed:
        with pytest.raises(Killed):
            await service.meter_reports.report()
    else:
        await service.meter_reports.report()  # the outage stops the run, to be tried again
    del gateway.lost[customer]
    await service.redis.set(name, 9)  # two requests of that hour counted after the flush
    await until(flushed, "the late counter flushed")
    await service.meter_reports.report()
    key = router_key(org, hour)
    assert [(s.identifier, s.value) for s in gateway.to(customer)] == [(key, 7), (f"{key}:9", 2)]
    await service.meter_reports.report()
    assert sum(s.value for s in gateway.to(customer)) == 9


async def test_uses_not_sent_while_stripe_is_down_are_sent_by_the_next_run(
    billing: SignedClient, service: BillingService, owner_engine: AsyncEngine
) -> None:
    org, customer = await _subscribed(billing, owner_engine)
    gateway = recorded(service)
    keys = {f"ticket:{uuid4()}" for _ in range(3)}
    for key in keys:
        await service.ledger.record(UsageRecord(org, "tickets", 1, utcnow(), key))
    gateway.down = True
    assert await service.meter_reports.report() == 0
    gateway.down = False
    await service.meter_reports.report()
    assert {s.identifier for s in gateway.to(customer)} == keys


async def test_a_refused_use_is_tried_again_and_does_not_stop_the_others(
    billing: SignedClient, service: BillingService, owner_engine: AsyncEngine
) -> None:
    org, customer = await _subscribed(billing, owner_engine)
    gateway = recorded(service)
    refused = f"ticket:{uuid4()}"
    other = f"ticket:{uuid4()}"
    at = utcnow()
    await service.ledger.record(UsageRecord(org, "tickets", 1, at, refused))
    await service.ledger.record(UsageRecord(org, "tickets", 1, at + timedelta(seconds=1), other))
    gateway.refused.add(refused)
    await service.meter_reports.report()
    assert [s.identifier for s in gateway.to(customer)] == [other]
    gateway.refused.clear()
    await service.meter_reports.report()
    assert [s.identifier for s in gateway.to(customer)] == [other, refused]


async def test_use_older_than_stripe_accepts_and_unbilled_organizations_are_not_sent(
    billing: SignedClient, service: BillingService, owner_engine: AsyncEngine
) -> None:
    org, customer = await _subscribed(billing, owner_engine)
    old = utcnow() - timedelta(days=36)
    await service.ledger.record(UsageRecord(org, "tickets", 1, old, f"ticket:{uuid4()}"))
    free = uuid4()  # never subscribed: no Stripe customer to bill
    await service.ledger.record(UsageRecord(free, "tickets", 1, utcnow(), f"ticket:{uuid4()}"))
    await service.meter_reports.report()
    assert recorded(service).to(customer) == []
    async with owner_engine.connect() as connection:
        unreported = await connection.scalar(
            text(
                "select count(*) from billing.usage_events"
                " where org_id = :org and reported_quantity < quantity"
            ),
            {"org": free},
        )
    assert unreported == 1


async def test_the_customer_listing_reads_accounts_and_writes_none(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    org, _ = await _subscribed(billing, owner_engine)
    db = Database(billing_settings.core.login_url("billing"))
    try:
        async with db.transaction(Caller()) as session:
            assert await session.scalar(text("select count(*) from billing.accounts")) == 0
            await set_local(session, "app.billing_customers", "on")
            listed = await session.scalar(
                text("select count(*) from billing.accounts where org_id = :org"), {"org": org}
            )
            assert listed == 1
            changed = await session.execute(
                text("update billing.accounts set payment_method_last4 = '0000' where org_id = :o"),
                {"o": org},
            )
            assert changed.rowcount == 0  # type: ignore[attr-defined]
    finally:
        await db.close()


async def test_without_a_provider_nothing_is_reported(billing_settings: PlatformSettings) -> None:
    db = Database(billing_settings.core.login_url("billing"))
    try:
        assert await MeterReporter(db, None).report() == 0
    finally:
        await db.close()


async def test_the_test_server_refuses_meter_events_so_the_cron_keeps_them(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    """The real gateway's call, as the cron makes it: the test server has no meters (Stripe
    accepts the event once sync-plans made the meter)."""
    _, customer = await _subscribed(billing, owner_engine)
    gateway = gateway_for(billing_settings.billing)
    assert gateway is not None
    report = gateway.report_usage("tickets", customer, 1, f"ticket:{uuid4()}", int(time.time()))
    if await gateway.sync_meter("tickets") is not None:
        await report
        return
    with pytest.raises(ProviderRefused):
        await report
