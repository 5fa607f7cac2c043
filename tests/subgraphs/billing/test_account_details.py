"""What a billing account shows besides its plan: its Stripe customer, its current period's start
and end, each invoice's lines as the newest event showed them, and this month's use of each
meter of the plan, listed and as ``UsageMeter`` entities, and a subscription's own use (the
hours of its lifetime); none of it to another organization."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.ledger import Ledger
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.usage import UsageRecord
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import event, owner
from tests.subgraphs.billing.test_subscriptions import CANCEL, org_ref, start
from tests.subgraphs.billing.test_webhooks import _customer, _send
from vetrai.settings import PlatformSettings

ACCOUNT = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  billing { stripeCustomerId currentPeriodStart currentPeriodEnd
  subscription { currentPeriodStart currentPeriodEnd } } } } }"""
LINES = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  billing { invoices(first: 10) { edges { node { number lines {
  description amountCents quantity proration periodStart periodEnd } } } } } } } }"""
SUBSCRIPTION_USAGE = """query($r: [_Any!]!, $from: Date!, $to: Date!) {
  _entities(representations: $r) { ... on PlanSubscription {
  usage(meter: "tickets", from: $from, to: $to) { total included overage errors { code field } }
  } } }"""
METERS = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Organization { billing { meters { meter includedPerMonth used overage } } }
  ... on UsageMeter { organizationId meter includedPerMonth used overage } } }"""


@pytest.fixture
async def ledger(settings: PlatformSettings) -> AsyncIterator[Ledger]:
    assert settings.core.redis_url
    db = Database(settings.core.login_url("billing"))
    redis = Redis.from_url(settings.core.redis_url)
    yield Ledger(db, redis, catalogue().meters)
    await redis.aclose()
    await db.close()


async def test_the_account_shows_its_customer_and_its_periods_start_and_end(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    never = (await billing.run(ACCOUNT, org_ref(caller), caller))["_entities"][0]["billing"]
    assert never == {
        "stripeCustomerId": None,
        "currentPeriodStart": None,
        "currentPeriodEnd": None,
        "subscription": None,
    }
    assert (await start(billing, caller))["errors"] == []
    found = (await billing.run(ACCOUNT, org_ref(caller), caller))["_entities"][0]["billing"]
    assert found["stripeCustomerId"] == await _customer(owner_engine, caller.org_id)
    assert found["currentPeriodStart"] is not None
    assert found["currentPeriodStart"] < found["currentPeriodEnd"]
    assert found["subscription"] == {
        "currentPeriodStart": found["currentPeriodStart"],
        "currentPeriodEnd": found["currentPeriodEnd"],
    }


async def test_an_invoices_lines_are_kept_as_its_newest_event_shows_them(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    assert (await start(billing, caller))["errors"] == []
    customer = await _customer(owner_engine, caller.org_id)
    now = int(time.time())
    month = {"start": now - 30 * 86400, "end": now}
    lines = [
        {
            "description": "1 x Pro (at $29.00 / month)",
            "amount": 2900,
            "quantity": 1,
            "period": month,
        },
        {
            "description": "Unused time on Pro",
            "amount": -1450,
            "quantity": 1,
            "period": month,
            # where newer API versions say it is a proration
            "parent": {"subscription_item_details": {"proration": True}},
        },
    ]
    invoice = {
        "id": f"in_{uuid4().hex}",
        "customer": customer,
        "number": "LINES-0001",
        "lines": {"object": "list", "data": lines, "has_more": False},
    }
    await _send(billing, owner_engine, event("invoice.paid", invoice, now))
    found = (await billing.run(LINES, org_ref(caller), caller))["_entities"][0]
    # Beside the test server's own invoice once its webhooks reach billing (an earlier test).
    [node] = [
        e["node"]
        for e in found["billing"]["invoices"]["edges"]
        if e["node"]["number"] == "LINES-0001"
    ]
    assert [(line["amountCents"], line["proration"]) for line in node["lines"]] == [
        (2900, False),
        (-1450, True),
    ]
    assert node["lines"][0]["description"] == "1 x Pro (at $29.00 / month)"
    assert node["lines"][0]["quantity"] == 1
    assert node["lines"][0]["periodStart"] < node["lines"][0]["periodEnd"]


async def test_this_months_use_of_each_meter_is_listed_and_resolved_as_an_entity(
    billing: SignedClient, ledger: Ledger
) -> None:
    caller = owner()  # on the free plan: 100 tickets a month
    assert caller.org_id
    await ledger.record(UsageRecord(caller.org_id, "tickets", 103, utcnow(), f"t:{uuid4()}"))
    found = (await billing.run(METERS, org_ref(caller), caller))["_entities"][0]
    meters = {m["meter"]: m for m in found["billing"]["meters"]}
    assert sorted(meters) == sorted(m.key for m in catalogue().free.meters)
    tickets = {"meter": "tickets", "includedPerMonth": 100, "used": 103, "overage": 3}
    assert meters["tickets"] == tickets
    assert meters["jobs"] == {"meter": "jobs", "includedPerMonth": 500, "used": 0, "overage": 0}

    reference = {"__typename": "UsageMeter", "organizationId": str(caller.org_id)}
    variables: dict[str, Any] = {
        "r": [{**reference, "meter": "tickets"}, {**reference, "meter": "gigabytes"}]
    }
    resolved = (await billing.run(METERS, variables, caller))["_entities"]
    assert resolved == [{"organizationId": str(caller.org_id), **tickets}, None]
    stranger = Caller(user_id=uuid4(), org_id=uuid4(), roles=frozenset({"owner"}))
    assert (await billing.run(METERS, variables, stranger))["_entities"] == [None, None]


async def test_a_subscriptions_usage_is_that_of_the_hours_it_lived(
    billing: SignedClient, ledger: Ledger, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    assert caller.org_id
    started = await start(billing, caller)
    subscription = started["subscription"]["id"]
    now = utcnow()
    async with owner_engine.begin() as connection:  # made two hours ago
        await connection.execute(
            text("update billing.subscriptions set created_at = :at where id = :id"),
            {"at": now - timedelta(hours=2), "id": subscription},
        )
    for hours, quantity in ((-3, 1), (-1, 10), (1, 100)):  # before, during, after it
        at = now + timedelta(hours=hours)
        await ledger.record(UsageRecord(caller.org_id, "tickets", quantity, at, f"t:{uuid4()}"))
    cancelled = await billing.run(CANCEL, {"org": str(caller.org_id), "end": False}, caller)
    assert cancelled["cancelSubscription"]["errors"] == []
    variables = {
        "r": [{"__typename": "PlanSubscription", "id": subscription}],
        "from": (now - timedelta(days=1)).date().isoformat(),
        "to": (now + timedelta(days=1)).date().isoformat(),
    }
    found = (await billing.run(SUBSCRIPTION_USAGE, variables, caller))["_entities"][0]
    usage = found["usage"]
    assert (usage["total"], usage["overage"], usage["errors"]) == (10, 0, [])
    assert usage["included"] in (2000, 4000)  # pro's tickets, for each month its hours touch
    stranger = owner()
    assert (await billing.run(SUBSCRIPTION_USAGE, variables, stranger))["_entities"] == [None]
