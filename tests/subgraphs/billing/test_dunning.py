"""Dunning: a failed payment emails the owners who bought the plan (template
``billing.payment_failed``, through the outbox and the worker), once per invoice and attempt,
however often Stripe delivers the event."""

from __future__ import annotations

from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, emailed, unique_email
from tests.subgraphs.auth.builders import sign_up
from tests.subgraphs.billing.builders import applied, event, post_event, until
from tests.subgraphs.billing.test_subscriptions import start

TEMPLATE = "billing.payment_failed"


async def _owner_with_email(auth: SignedClient, owner_engine: AsyncEngine) -> tuple[Caller, str]:
    """An owner of a new organization whose address notifications knows."""
    address = unique_email("owner")
    user = await sign_up(auth, address)
    await emailed(owner_engine, address, "verify_email")
    user_id = UUID(user["user"]["id"])
    return Caller(user_id=user_id, org_id=uuid4(), roles=frozenset({"owner"})), address


async def _customer(owner_engine: AsyncEngine, org_id: UUID | None) -> str:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select stripe_customer_id from billing.accounts where org_id = :org"),
            {"org": org_id},
        )
    return str(found)


async def _fail(
    billing: SignedClient, owner_engine: AsyncEngine, invoice: dict[str, object]
) -> None:
    payload = event("invoice.payment_failed", invoice)
    assert (await post_event(billing.client, payload)).status_code == 200
    await until(lambda: applied(owner_engine, payload["id"]), "the event applied")


async def _notified(owner_engine: AsyncEngine, invoice_id: str) -> list[str]:
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "select dedupe_key from notifications.notifications"
                " where template_key = :t and dedupe_key like :k order by dedupe_key"
            ),
            {"t": TEMPLATE, "k": f"{TEMPLATE}:{invoice_id}:%"},
        )
    return [r[0] for r in rows]


async def test_owners_are_emailed_once_per_invoice_and_attempt(
    auth: SignedClient, billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, address = await _owner_with_email(auth, owner_engine)
    subscription = (await start(billing, caller))["subscription"]["id"]
    invoice: dict[str, object] = {
        "id": f"in_{uuid4().hex}",
        "customer": await _customer(owner_engine, caller.org_id),
        "subscription": subscription,
        "number": "DUN-0001",
        "attempt_count": 1,
    }
    await _fail(billing, owner_engine, invoice)
    body = await emailed(owner_engine, address, TEMPLATE)
    assert "DUN-0001" in body
    assert "29.00 USD" in body
    assert "attempt 1" in body

    await _fail(billing, owner_engine, invoice)  # Stripe delivers the same failure again
    await _fail(billing, owner_engine, {**invoice, "attempt_count": 2})
    await until(lambda: _attempt_sent(owner_engine, address, 2), "the second attempt's email")
    user = caller.user_id
    assert await _notified(owner_engine, str(invoice["id"])) == [
        f"{TEMPLATE}:{invoice['id']}:1:{user}",
        f"{TEMPLATE}:{invoice['id']}:2:{user}",
    ]


async def _attempt_sent(owner_engine: AsyncEngine, address: str, attempt: int) -> bool:
    return f"attempt {attempt}" in await emailed(owner_engine, address, TEMPLATE)
