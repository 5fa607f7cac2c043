"""Stripe's webhooks: the signature on the raw body decides (either secret during a rotation,
five minutes' tolerance), each event is stored once and applied by the worker in order per
object, and a failed payment keeps the plan for its grace days."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
import time_machine
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.billing import tasks
from subgraphs.billing.gateway import PLAN_METADATA
from subgraphs.billing.plans import Plan
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database
from tests.conftest import SignedClient, subgraph_client
from tests.subgraphs.billing.builders import (
    PREVIOUS_WEBHOOK_SECRET,
    applied,
    event,
    owner,
    post_event,
    signature,
    store_unqueued,
    until,
)
from tests.subgraphs.billing.test_subscriptions import CHANGE, ENTITLEMENTS, org_ref, start
from vetrai.settings import PlatformSettings

BILLING = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Organization { plan billing { status cancelAtPeriodEnd invoices(first: 10) {
  totalCount edges { node { number status totalCents hostedUrl } } } } } } }"""


async def _subscribed(billing: SignedClient) -> tuple[Caller, str]:
    """An organization on pro: its owner and its subscription's id."""
    caller = owner()
    started = await start(billing, caller)
    assert started["errors"] == []
    return caller, started["subscription"]["id"]


async def _customer(owner_engine: AsyncEngine, org_id: UUID | None) -> str:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select stripe_customer_id from billing.accounts where org_id = :org"),
            {"org": org_id},
        )
    assert found
    return str(found)


async def _send(billing: SignedClient, owner_engine: AsyncEngine, payload: dict[str, Any]) -> None:
    response = await post_event(billing.client, payload)
    assert response.status_code == 200, response.text
    await until(lambda: applied(owner_engine, payload["id"]), f"{payload['type']} applied")


async def _billing(billing: SignedClient, caller: Caller) -> dict[str, Any]:
    found: dict[str, Any] = (await billing.run(BILLING, org_ref(caller), caller))["_entities"][0]
    return found


async def test_forged_stale_and_unsigned_events_are_refused_and_stored_nowhere(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    payload = event("invoice.paid", {"customer": "cus_nobody"})
    body = orjson.dumps(payload)
    attempts = [
        {},
        {"stripe-signature": signature(body, "whsec_someone_else")},
        {"stripe-signature": signature(body, at=int(time.time()) - 301)},
        {"stripe-signature": signature(body + b" ")},
        {"stripe-signature": "t=1,v1=00"},
    ]
    for headers in attempts:
        response = await billing.client.post("/stripe/webhook", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_INPUT"
    async with owner_engine.connect() as connection:
        stored = await connection.scalar(
            text("select count(*) from billing.webhook_events where id = :id"),
            {"id": payload["id"]},
        )
    assert stored == 0
    rotated = await post_event(billing.client, payload, secret=PREVIOUS_WEBHOOK_SECRET)
    assert rotated.status_code == 200


async def test_a_signed_body_that_is_not_an_event_is_refused(billing: SignedClient) -> None:
    for body in (b"[]", b"{", b'{"id": "evt_1", "type": "x"}'):
        headers = {"stripe-signature": signature(body)}
        response = await billing.client.post("/stripe/webhook", content=body, headers=headers)
        assert response.status_code == 400


async def test_updated_before_created_ends_in_the_latest_state(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    now = int(time.time())
    ids = {"id": subscription_id, "customer": customer}
    updated = event("customer.subscription.updated", {**ids, "cancel_at_period_end": True}, now)
    created = event("customer.subscription.created", ids, now - 5)
    await _send(billing, owner_engine, updated)
    await _send(billing, owner_engine, created)
    found = await _billing(billing, caller)
    assert found["billing"]["status"] == "ACTIVE"
    assert found["billing"]["cancelAtPeriodEnd"] is True
    deleted = event("customer.subscription.deleted", ids, now + 1)
    stale = event("customer.subscription.updated", ids, now)
    await _send(billing, owner_engine, deleted)
    await _send(billing, owner_engine, stale)
    found = await _billing(billing, caller)
    assert (found["plan"], found["billing"]["status"]) == ("free", "CANCELED")


async def test_a_creation_delivered_after_a_plan_change_does_not_undo_it(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    variables = {"org": str(caller.org_id), "plan": "team"}
    assert (await billing.run(CHANGE, variables, caller))["changePlan"]["errors"] == []
    # The creation's event, made a second or two after the subscription (the test server's
    # are) and applied after the change, naming the plan the subscription was made on.
    ids = {"id": subscription_id, "customer": customer, "metadata": {PLAN_METADATA: "pro"}}
    late = event("customer.subscription.created", ids, int(time.time()) + 2)
    await _send(billing, owner_engine, late)
    assert (await _billing(billing, caller))["plan"] == "team"


async def test_an_update_made_before_a_plan_change_and_delivered_after_it_does_not_undo_it(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    made = int(time.time())
    variables = {"org": str(caller.org_id), "plan": "team"}
    with time_machine.travel(datetime.fromtimestamp(made + 10, UTC)):  # ten seconds on
        assert (await billing.run(CHANGE, variables, caller))["changePlan"]["errors"] == []
    ids = {"id": subscription_id, "customer": customer, "metadata": {PLAN_METADATA: "pro"}}
    older = event("customer.subscription.updated", ids, made + 5)  # retried, delivered late
    await _send(billing, owner_engine, older)
    assert (await _billing(billing, caller))["plan"] == "team"
    newer = event("customer.subscription.updated", ids, made + 20)  # made after the change
    await _send(billing, owner_engine, newer)
    assert (await _billing(billing, caller))["plan"] == "pro"


async def test_the_same_event_delivered_ten_times_at_once_is_applied_once(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    invoice = {
        "id": f"in_{subscription_id}",
        "customer": customer,
        "subscription": subscription_id,
    }
    payload = event("invoice.payment_failed", invoice)
    replies = await asyncio.gather(*(post_event(billing.client, payload) for _ in range(10)))
    assert [r.status_code for r in replies] == [200] * 10
    await until(lambda: applied(owner_engine, payload["id"]), "the event applied")
    async with owner_engine.connect() as connection:
        events = await connection.scalar(
            text("select count(*) from billing.webhook_events where id = :id"),
            {"id": payload["id"]},
        )
        invoices = await connection.scalar(
            text("select count(*) from billing.invoices where id = :id"), {"id": invoice["id"]}
        )
    assert (events, invoices) == (1, 1)
    found = await _billing(billing, caller)
    assert found["billing"]["status"] == "PAST_DUE"
    # The test server's own paid invoice may be there too, once an earlier test registered
    # the webhook with it.
    edges = found["billing"]["invoices"]["edges"]
    assert [e["node"] for e in edges if e["node"]["number"] == "FIXTURE-0001"] == [
        {
            "number": "FIXTURE-0001",
            "status": "open",
            "totalCents": 2900,
            "hostedUrl": "https://invoice.stripe.com/i/acct_fixture/test_fixture",
        }
    ]


async def test_a_failed_payment_keeps_the_plan_for_its_grace_days_then_free(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    invoice = {"id": f"in_{subscription_id}", "customer": customer, "subscription": subscription_id}
    await _send(billing, owner_engine, event("invoice.payment_failed", invoice))
    for days_later, plan in ((0, "pro"), (6, "pro"), (8, "free")):  # pro's grace is 7 days
        with time_machine.travel(timedelta(days=days_later)):
            found = await _billing(billing, caller)
        assert (days_later, found["plan"], found["billing"]["status"]) == (
            days_later,
            plan,
            "PAST_DUE",
        )
    await _send(billing, owner_engine, event("invoice.paid", invoice, int(time.time()) + 1))
    recovered = await _billing(billing, caller)
    assert (recovered["plan"], recovered["billing"]["status"]) == ("pro", "ACTIVE")


async def test_an_event_for_an_unknown_customer_is_kept_and_changes_nothing(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    stray = event(
        "customer.subscription.deleted", {"id": subscription_id, "customer": "cus_unknown"}
    )
    await _send(billing, owner_engine, stray)
    async with owner_engine.connect() as connection:
        org = await connection.scalar(
            text("select org_id from billing.webhook_events where id = :id"), {"id": stray["id"]}
        )
    assert org is None
    found = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert found["plan"] == "pro"


async def test_the_test_servers_own_webhooks_bring_the_invoice(
    billing: SignedClient, webhook_url: str
) -> None:
    caller, _ = await _subscribed(billing)

    async def paid() -> Any:
        found = await _billing(billing, caller)
        edges = found["billing"]["invoices"]["edges"]
        return edges if edges and edges[0]["node"]["status"] == "paid" else None

    edges = await until(paid, "the server's paid invoice")
    assert len(edges) == 1
    assert edges[0]["node"]["totalCents"] == 2900


async def test_an_event_whose_job_was_lost_is_applied_by_the_sweep(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    ids = {"id": subscription_id, "customer": customer}
    lost = event("customer.subscription.deleted", ids, int(time.time()) + 1)
    url = billing_settings.core.login_url("billing")
    assert billing_settings.core.redis_url
    db, redis = Database(url), Redis.from_url(billing_settings.core.redis_url)
    service = BillingService(db, redis, billing_settings, None)
    await store_unqueued(owner_engine, lost)
    assert await tasks.apply_pending({"billing": service}) == 0  # too recent to be lost
    with time_machine.travel(timedelta(minutes=2)):
        assert await tasks.apply_pending({"billing": service}) >= 1
    assert await applied(owner_engine, lost["id"])
    found = await _billing(billing, caller)
    assert (found["plan"], found["billing"]["status"]) == ("free", "CANCELED")
    await db.close()
    await redis.aclose()


async def test_an_event_delivered_while_redis_is_down_is_answered_and_applied_later(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    invoice = {"id": f"in_{subscription_id}", "customer": customer, "subscription": subscription_id}
    failed = event("invoice.payment_failed", invoice)
    with socket.socket() as unused:  # a port nothing listens on once it is closed
        unused.bind(("127.0.0.1", 0))
        down = f"redis://127.0.0.1:{unused.getsockname()[1]}"
    async for cut_off in subgraph_client("billing", billing_settings.replace(redis_url=down)):
        response = await post_event(cut_off.client, failed)
        assert response.status_code == 200, response.text
    # the session's worker, on a Redis that is up, relays its job and applies it
    await until(lambda: applied(owner_engine, failed["id"]), "the event applied")
    found = await _billing(billing, caller)
    assert (found["plan"], found["billing"]["status"]) == ("pro", "PAST_DUE")


class Killed(Exception):
    """The worker's process ended mid-apply (its transaction is rolled back)."""


class KilledMidApply(BillingService):
    """Ends while applying, after the event changed the subscription and before the commit."""

    @staticmethod
    async def _announce(
        session: AsyncSession, org_id: UUID, plan: Plan, as_of: datetime | None = None
    ) -> None:
        raise Killed


async def test_a_worker_killed_mid_apply_leaves_the_event_to_be_applied_again(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    ids = {"id": subscription_id, "customer": await _customer(owner_engine, caller.org_id)}
    deleted = event("customer.subscription.deleted", ids, int(time.time()) + 1)
    await store_unqueued(owner_engine, deleted)
    assert billing_settings.core.redis_url
    db = Database(billing_settings.core.login_url("billing"))
    redis = Redis.from_url(billing_settings.core.redis_url)
    try:
        with pytest.raises(Killed):
            await KilledMidApply(db, redis, billing_settings, None).apply_event(deleted["id"])
        assert not await applied(owner_engine, deleted["id"])
        found = await _billing(billing, caller)
        assert (found["plan"], found["billing"]["status"]) == ("pro", "ACTIVE")
        service = BillingService(db, redis, billing_settings, None)
        assert await service.apply_event(deleted["id"])  # as the sweep of unapplied ones does
        assert not await service.apply_event(deleted["id"])
    finally:
        await redis.aclose()
        await db.close()
    found = await _billing(billing, caller)
    assert (found["plan"], found["billing"]["status"]) == ("free", "CANCELED")


async def test_an_event_for_one_organization_never_touches_anothers(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, ada_subscription = await _subscribed(billing)
    eve, eve_subscription = await _subscribed(billing)
    ada_customer = await _customer(owner_engine, ada.org_id)
    eve_customer = await _customer(owner_engine, eve.org_id)
    eve_invoice = {"id": f"in_{eve_subscription}", "customer": eve_customer}
    await _send(billing, owner_engine, event("invoice.paid", eve_invoice))
    later = int(time.time()) + 5
    aimed = {"id": eve_subscription, "customer": ada_customer}
    await _send(billing, owner_engine, event("customer.subscription.deleted", aimed, later))
    forged_invoice = {**eve_invoice, "customer": ada_customer, "total": 1}
    await _send(billing, owner_engine, event("invoice.payment_failed", forged_invoice, later))
    eve_now = await _billing(billing, eve)
    assert (eve_now["plan"], eve_now["billing"]["status"]) == ("pro", "ACTIVE")
    async with owner_engine.connect() as connection:
        invoice = await connection.execute(
            text("select org_id, status, total_cents from billing.invoices where id = :id"),
            {"id": eve_invoice["id"]},
        )
        subscriptions = await connection.execute(
            text("select org_id, status from billing.subscriptions where id = :id"),
            {"id": eve_subscription},
        )
        assert invoice.all() == [(eve.org_id, "paid", 2900)]
        assert subscriptions.all() == [(eve.org_id, "active")]
    ada_now = await _billing(billing, ada)
    assert (ada_now["plan"], ada_now["billing"]["status"]) == ("pro", "ACTIVE")
    assert ada_subscription != eve_subscription


async def test_invoices_page_newest_first_and_a_bad_page_size_is_invalid_input(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, subscription_id = await _subscribed(billing)
    customer = await _customer(owner_engine, caller.org_id)
    now = int(time.time())
    for n in range(3):
        invoice = {
            "id": f"in_page_{n}_{subscription_id}",
            "customer": customer,
            "created": now + 10 + n,
        }
        await _send(billing, owner_engine, event("invoice.paid", invoice))
    query = """query($r: [_Any!]!, $after: String) { _entities(representations: $r) {
      ... on Organization { billing { invoices(first: 2, after: $after) { totalCount
      edges { node { id } } pageInfo { hasNextPage endCursor } } } } } }"""
    ids = [f"in_page_{n}_{subscription_id}" for n in (2, 1, 0)]

    async def page(after: str | None) -> dict[str, Any]:
        found = await billing.run(query, {**org_ref(caller), "after": after}, caller)
        invoices: dict[str, Any] = found["_entities"][0]["billing"]["invoices"]
        return invoices

    first = await page(None)
    # the test server's own webhooks may add the subscription's first invoice
    assert first["totalCount"] in (3, 4)
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    second = await page(first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["edges"]][:1] == ids[2:]
    bad = await billing.post(
        query.replace("first: 2", "first: 0"), {**org_ref(caller), "after": None}, caller
    )
    assert bad.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    forged = await billing.post(query, {**org_ref(caller), "after": "not-a-cursor"}, caller)
    assert forged.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
