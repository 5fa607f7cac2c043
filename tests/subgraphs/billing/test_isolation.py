"""One organization's billing is invisible to every other: through the billing subgraph
(``_entities`` included), in the service, and in the database itself, where webhook events are
readable only by the path that receives and applies them."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database, set_local
from subgraphs.kernel.migrations import role_of
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import applied, event, owner, post_event, until
from tests.subgraphs.billing.test_subscriptions import start
from vetrai.settings import PlatformSettings

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on BillingAccount { organizationId status } ... on Invoice { id totalCents }
  ... on PlanSubscription { id } ... on Organization { plan billing { status }
  entitlements { feature } } } }"""
TABLES = ("accounts", "subscriptions", "invoices")


async def _with_invoice(
    billing: SignedClient, owner_engine: AsyncEngine
) -> tuple[Caller, str, str]:
    """An organization on pro with one invoice: its owner, subscription and invoice ids."""
    caller = owner()
    started = await start(billing, caller)
    subscription = started["subscription"]["id"]
    async with owner_engine.connect() as connection:
        customer = await connection.scalar(
            text("select stripe_customer_id from billing.accounts where org_id = :org"),
            {"org": caller.org_id},
        )
    invoice = {"id": f"in_{subscription}", "customer": customer, "subscription": subscription}
    paid = event("invoice.paid", invoice)
    assert (await post_event(billing.client, paid)).status_code == 200
    await until(lambda: applied(owner_engine, paid["id"]), "the invoice applied")
    return caller, subscription, invoice["id"]


def _refs(caller: Caller, subscription: str, invoice: str) -> dict[str, object]:
    return {
        "r": [
            {"__typename": "BillingAccount", "organizationId": str(caller.org_id)},
            {"__typename": "Invoice", "id": invoice},
            {"__typename": "PlanSubscription", "id": subscription},
            {"__typename": "Organization", "id": str(caller.org_id)},
        ]
    }


async def test_entities_of_another_organization_are_null_and_unsigned_calls_see_nothing(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, subscription, invoice = await _with_invoice(billing, owner_engine)
    refs = _refs(ada, subscription, invoice)
    mine = (await billing.run(ENTITIES, refs, ada))["_entities"]
    assert mine[0] == {"organizationId": str(ada.org_id), "status": "ACTIVE"}
    assert mine[1] == {"id": invoice, "totalCents": 2900}
    assert mine[2] == {"id": subscription}
    hidden: list[object] = [None, None, None, {"plan": "free", "billing": None, "entitlements": []}]
    assert (await billing.run(ENTITIES, refs, owner()))["_entities"] == hidden
    unsigned = await billing.client.post("/graphql", json={"query": ENTITIES, "variables": refs})
    assert unsigned.json()["data"]["_entities"] == hidden


async def test_the_service_reads_only_the_callers_organization(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    ada, subscription, invoice = await _with_invoice(billing, owner_engine)
    eve = owner()
    url = billing_settings.core.login_url("billing")
    assert billing_settings.core.redis_url
    db, redis = Database(url), Redis.from_url(billing_settings.core.redis_url)
    service = BillingService(db, redis, billing_settings, None)
    try:
        assert ada.org_id is not None
        assert await service.accounts(eve, [ada.org_id]) == [None]
        assert await service.subscriptions(eve, [subscription]) == [None]
        assert await service.invoices_by_id(eve, [invoice]) == [None]
        assert (await service.invoices(eve, ada.org_id, 10, None)).total == 0
        mine = await service.accounts(ada, [ada.org_id])
        assert [v.plan.key for v in mine if v] == ["pro"]
        assert (await service.invoices(ada, ada.org_id, 10, None)).total == 1
    finally:
        await redis.aclose()
        await db.close()


async def test_rls_shows_billing_rows_only_to_their_organization_and_events_to_no_tenant(
    billing: SignedClient, billing_settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    ada, _, _ = await _with_invoice(billing, owner_engine)
    eve, _, _ = await _with_invoice(billing, owner_engine)
    url = billing_settings.core.login_url("billing")
    db = Database(url)
    try:
        async with db.transaction(Caller(org_id=eve.org_id)) as session:
            current = await session.scalar(text("select current_user"))
            assert current == role_of("billing")
            for table in TABLES:
                rows = await session.execute(text(f"select org_id from billing.{table}"))  # noqa: S608
                assert {r[0] for r in rows} == {eve.org_id}, table
            events = await session.scalar(text("select count(*) from billing.webhook_events"))
            assert events == 0
        async with db.transaction(Caller()) as session:
            for table in TABLES:
                visible = await session.scalar(text(f"select count(*) from billing.{table}"))  # noqa: S608
                assert visible == 0, table
            await set_local(session, "app.billing_events", "on")
            assert await session.scalar(text("select count(*) from billing.webhook_events")) > 0
            assert await session.scalar(text("select count(*) from billing.accounts")) == 0
        with pytest.raises(DBAPIError):
            async with db.transaction(Caller(org_id=eve.org_id)) as session:
                await session.execute(
                    text("update billing.subscriptions set org_id = :other where org_id = :mine"),
                    {"other": ada.org_id, "mine": eve.org_id},
                )
    finally:
        await db.close()
