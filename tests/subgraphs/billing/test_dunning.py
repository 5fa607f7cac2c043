"""Dunning: a failed payment emails every owner of the organization (template
``billing.payment_failed``, addressed to the ``owner`` role that notifications expands from
tenancy's members), once per invoice and attempt, however often Stripe delivers the event."""

from __future__ import annotations

from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, emailed, unique_email
from tests.subgraphs.auth.builders import sign_up
from tests.subgraphs.billing.builders import announced_roles, applied, event, post_event, until
from tests.subgraphs.billing.test_subscriptions import start
from tests.subgraphs.tenancy.builders import create_org, join

TEMPLATE = "billing.payment_failed"
PROMOTE = """mutation($org: ID!, $user: ID!) {
  changeMemberRole(input: {organizationId: $org, userId: $user, role: OWNER}) {
    membership { role } errors { code message } } }"""


async def _user_with_email(auth: SignedClient, owner_engine: AsyncEngine) -> tuple[Caller, str]:
    """A user whose address notifications knows."""
    address = unique_email("owner")
    user = await sign_up(auth, address)
    await emailed(owner_engine, address, "verify_email")
    caller = Caller(user_id=UUID(user["user"]["id"]), email=address, email_verified=True)
    return caller, address


async def _owners_and_member(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> tuple[Caller, list[tuple[Caller, str]], str]:
    """An organization made through tenancy: its creator, a member made owner later, and a
    member; the creator (acting in it), both owners with their addresses, the member's."""
    (ada, ada_at), (bob, bob_at), (cy, cy_at) = [
        await _user_with_email(auth, owner_engine) for _ in range(3)
    ]
    org = (await create_org(tenancy, ada))["organization"]["id"]
    for user in (bob, cy):
        await join(tenancy, owner_engine, ada, org, user)
    promoted = await tenancy.run(PROMOTE, {"org": org, "user": str(bob.user_id)}, ada)
    assert promoted["changeMemberRole"]["errors"] == []
    owners = {str(ada.user_id): "owner", str(bob.user_id): "owner", str(cy.user_id): "member"}

    async def all_announced() -> bool:
        return await announced_roles(owner_engine, UUID(org)) == owners

    await until(all_announced, "the roles announced to notifications")
    acting = Caller(user_id=ada.user_id, org_id=UUID(org), roles=frozenset({"owner"}))
    return acting, [(ada, ada_at), (bob, bob_at)], cy_at


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


async def test_every_owner_is_emailed_once_per_invoice_and_attempt(
    auth: SignedClient, billing: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller, owners, member_address = await _owners_and_member(auth, tenancy, owner_engine)
    subscription = (await start(billing, caller))["subscription"]["id"]
    invoice: dict[str, object] = {
        "id": f"in_{uuid4().hex}",
        "customer": await _customer(owner_engine, caller.org_id),
        "subscription": subscription,
        "number": "DUN-0001",
        "attempt_count": 1,
    }
    await _fail(billing, owner_engine, invoice)
    for _, address in owners:
        body = await emailed(owner_engine, address, TEMPLATE)
        assert "DUN-0001" in body
        assert "29.00 USD" in body
        assert "attempt 1" in body

    await _fail(billing, owner_engine, invoice)  # Stripe delivers the same failure again
    await _fail(billing, owner_engine, {**invoice, "attempt_count": 2})
    for _, address in owners:
        await until(lambda a=address: _attempt_sent(owner_engine, a, 2), "the second email")
    assert await _notified(owner_engine, str(invoice["id"])) == sorted(
        f"{TEMPLATE}:{invoice['id']}:{attempt}:{user.user_id}"
        for attempt in (1, 2)
        for user, _ in owners
    )
    assert not await _was_emailed(owner_engine, member_address)


async def _was_emailed(owner_engine: AsyncEngine, address: str) -> bool:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text(
                "select count(*) from notifications.deliveries d"
                " join notifications.notifications n on n.id = d.notification_id"
                " where d.address = :to and n.template_key = :t"
            ),
            {"to": address, "t": TEMPLATE},
        )
    return bool(found)


async def _attempt_sent(owner_engine: AsyncEngine, address: str, attempt: int) -> bool:
    return f"attempt {attempt}" in await emailed(owner_engine, address, TEMPLATE)
