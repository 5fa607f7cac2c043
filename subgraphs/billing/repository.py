"""The billing tables: the queries, upserts, locks and locking reads the service runs inside its
transactions. No rules here; the service decides what to read and write."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, bindparam, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.billing.contract import APPLY_EVENT_JOB
from subgraphs.billing.models import (
    AnnouncedPlan,
    BillingAccount,
    Invoice,
    SpendCap,
    Subscription,
    UsageEvent,
    WebhookEvent,
)
from subgraphs.kernel.db import set_local, utcnow
from subgraphs.kernel.outbox import stage_jobs_for


async def current(session: AsyncSession, org_id: UUID) -> Subscription | None:
    """The organization's newest subscription."""
    rows = await session.exec(
        select(Subscription)
        .where(Subscription.org_id == org_id)
        .order_by(col(Subscription.created_at).desc())
        .limit(1)
    )
    return rows.first()


async def current_locked(session: AsyncSession, org_id: UUID) -> Subscription | None:
    """The organization's newest subscription, locked (an event applied meanwhile is waited
    for, and read as it left the row)."""
    rows = await session.exec(
        select(Subscription)
        .where(Subscription.org_id == org_id)
        .order_by(col(Subscription.created_at).desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def announced_plan(session: AsyncSession, org_id: UUID) -> str | None:
    """The key of the plan last announced for the organization (None: none recorded)."""
    found = await session.get(AnnouncedPlan, org_id)
    return found.plan_key if found else None


async def save_announced(session: AsyncSession, org_id: UUID, plan_key: str) -> None:
    insert = pg_insert(AnnouncedPlan).values(
        org_id=org_id, plan_key=plan_key, announced_at=utcnow()
    )
    await session.exec(
        insert.on_conflict_do_update(
            index_elements=[col(AnnouncedPlan.org_id)],
            set_={
                "plan_key": insert.excluded.plan_key,
                "announced_at": insert.excluded.announced_at,
            },
        )
    )


async def past_due_not_announced_as(session: AsyncSession, plan_key: str) -> list[UUID]:
    """Every organization with a past-due subscription whose last announced plan is not
    ``plan_key`` (or is unknown); seen with ``app.billing_lapses`` on."""
    await set_local(session, "app.billing_lapses", "on")
    rows = await session.exec(
        select(Subscription.org_id)
        .distinct()
        .outerjoin(AnnouncedPlan, col(AnnouncedPlan.org_id) == col(Subscription.org_id))
        .where(
            Subscription.status == "past_due",
            col(AnnouncedPlan.plan_key).is_distinct_from(plan_key),
        )
        .order_by(col(Subscription.org_id))
    )
    return list(rows)


async def current_of(session: AsyncSession, org_ids: list[UUID]) -> dict[UUID, Subscription]:
    """Each organization's newest subscription, for those that have one."""
    rows = await session.exec(
        select(Subscription)
        .where(col(Subscription.org_id).in_(org_ids))
        .order_by(col(Subscription.created_at).desc())
    )
    found: dict[UUID, Subscription] = {}
    for subscription in rows:
        found.setdefault(subscription.org_id, subscription)
    return found


async def accounts_of(session: AsyncSession, org_ids: list[UUID]) -> dict[UUID, BillingAccount]:
    rows = await session.exec(select(BillingAccount).where(col(BillingAccount.org_id).in_(org_ids)))
    return {a.org_id: a for a in rows}


async def spend_caps_of(session: AsyncSession, org_ids: list[UUID]) -> dict[UUID, int]:
    rows = await session.exec(
        select(SpendCap.org_id, SpendCap.amount_cents).where(col(SpendCap.org_id).in_(org_ids))
    )
    return dict(rows.all())


async def save_spend_cap(session: AsyncSession, org_id: UUID, amount_cents: int | None) -> None:
    """Store the organization's cap, or remove it (None)."""
    if amount_cents is None:
        await session.exec(delete(SpendCap).where(col(SpendCap.org_id) == org_id))
        return
    insert = pg_insert(SpendCap).values(
        org_id=org_id, amount_cents=amount_cents, updated_at=utcnow()
    )
    await session.exec(
        insert.on_conflict_do_update(
            index_elements=[col(SpendCap.org_id)],
            set_={
                "amount_cents": insert.excluded.amount_cents,
                "updated_at": insert.excluded.updated_at,
            },
        )
    )


async def subscriptions_by_id(session: AsyncSession, ids: list[str]) -> list[Subscription]:
    return list(await session.exec(select(Subscription).where(col(Subscription.id).in_(ids))))


async def invoices_by_id(session: AsyncSession, ids: list[str]) -> list[Invoice]:
    return list(await session.exec(select(Invoice).where(col(Invoice.id).in_(ids))))


async def invoice_page(
    session: AsyncSession, org_id: UUID, size: int, after: tuple[datetime, str] | None
) -> tuple[list[Invoice], int]:
    """The organization's first ``size + 1`` invoices after ``after`` (created, id), newest
    first, and its invoice count. One statement, so the count and the page come from one
    snapshot: an invoice stored between two statements would be counted but not listed."""
    query = select(Invoice).where(Invoice.org_id == org_id)
    if after is not None:
        before, invoice_id = after
        query = query.where(
            (col(Invoice.created) < before)
            | ((col(Invoice.created) == before) & (col(Invoice.id) < invoice_id))
        )
    newest = (col(Invoice.created).desc(), col(Invoice.id).desc())
    page = aliased(Invoice, query.order_by(*newest).limit(size + 1).subquery("page"))
    counted = (
        select(func.count().label("total"))
        .select_from(Invoice)
        .where(Invoice.org_id == org_id)
        .subquery("counted")
    )
    # One row with no invoice when the page is empty.
    rows = list(
        await session.exec(
            select(counted.c.total, page)
            .select_from(counted)
            .outerjoin(page, true())
            .order_by(col(page.created).desc(), col(page.id).desc())
        )
    )
    return [invoice for _, invoice in rows if invoice is not None], int(rows[0][0])


async def lock_organization(session: AsyncSession, org_id: UUID) -> None:
    """Serialises the owners' billing changes per organization until the transaction ends."""
    await session.exec(select(func.pg_advisory_xact_lock(func.hashtext(f"billing:{org_id}"))))


async def lock_object(session: AsyncSession, object_id: str) -> None:
    """Serialises the events of one Stripe object until the transaction ends."""
    await session.exec(select(func.pg_advisory_xact_lock(func.hashtext(object_id))))


async def locked_subscription(session: AsyncSession, subscription_id: str) -> Subscription | None:
    return await session.get(Subscription, subscription_id, with_for_update=True)


async def locked_invoice(session: AsyncSession, invoice_id: str) -> Invoice | None:
    return await session.get(Invoice, invoice_id, with_for_update=True)


async def insert_new(session: AsyncSession, row: Subscription | Invoice) -> bool:
    """Insert a row first seen in an event, unless its id is taken: then it belongs to another
    organization (invisible here), and an event for one organization never touches another's;
    whether it was inserted."""
    values = {k: v for k, v in row.model_dump().items() if v is not None}
    inserted = await session.exec(
        pg_insert(type(row))
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(true())
    )
    return inserted.first() is not None


async def organization_of_customer(session: AsyncSession, customer: str) -> UUID | None:
    """The organization whose Stripe customer this is; row security shows an account to the
    event handler only by its customer id."""
    await set_local(session, "app.stripe_customer", customer)
    rows = await session.exec(
        select(BillingAccount.org_id).where(BillingAccount.stripe_customer_id == customer)
    )
    return rows.first()


_EVENTS: Table = WebhookEvent.__table__  # type: ignore[attr-defined]
# Built once (Core, not ORM): the webhook's answer waits for this statement alone.
_STORE_EVENT = stage_jobs_for(
    pg_insert(_EVENTS)
    .values({name: bindparam(name) for name in ("id", "type", "created", "payload", "received_at")})
    .on_conflict_do_nothing(index_elements=[_EVENTS.c.id])
    .returning(_EVENTS.c.id)
    .cte("stored"),
    APPLY_EVENT_JOB,
    "id",
)


async def store_event(session: AsyncSession, event: Mapping[str, Any]) -> bool:
    """Store a Stripe event unless its id is stored, and the job applying it (for the worker's
    relay to send), in one statement; True when it is new."""
    values = {
        "id": str(event["id"]),
        "type": str(event["type"]),
        "created": int(event["created"]),
        "payload": dict(event),
        "received_at": utcnow(),
    }
    connection = await session.connection()
    return (await connection.execute(_STORE_EVENT, values)).first() is not None


async def applied_events(session: AsyncSession, ids: list[str]) -> set[str]:
    """Those of ``ids`` that are stored and applied."""
    rows = await session.exec(
        select(WebhookEvent.id).where(
            col(WebhookEvent.id).in_(ids), col(WebhookEvent.applied_at).is_not(None)
        )
    )
    return set(rows)


async def unapplied_events(session: AsyncSession, received_before: datetime) -> list[str]:
    """Up to 500 events received before ``received_before`` and not applied, oldest first."""
    rows = await session.exec(
        select(WebhookEvent.id)
        .where(
            col(WebhookEvent.applied_at).is_(None),
            col(WebhookEvent.received_at) < received_before,
        )
        .order_by(col(WebhookEvent.created))
        .limit(500)
    )
    return list(rows)


async def locked_event(session: AsyncSession, event_id: str) -> WebhookEvent | None:
    rows = await session.exec(
        select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
    )
    return rows.first()


async def customers(session: AsyncSession) -> list[tuple[UUID, str]]:
    """Every organization with a Stripe customer (seen with ``app.billing_customers`` on)."""
    rows = await session.exec(
        select(BillingAccount.org_id, BillingAccount.stripe_customer_id).order_by(
            col(BillingAccount.org_id)
        )
    )
    return list(rows.all())


async def unreported_usage(session: AsyncSession, org_id: UUID, limit: int) -> list[UsageEvent]:
    """The organization's uses not (or not wholly) reported to Stripe, oldest first, locked so
    two reporters never send one twice."""
    rows = await session.exec(
        select(UsageEvent)
        .where(
            UsageEvent.org_id == org_id,
            col(UsageEvent.reported_quantity) < col(UsageEvent.quantity),
        )
        .order_by(col(UsageEvent.occurred_at), col(UsageEvent.id))
        .limit(limit)
        .with_for_update()
    )
    return list(rows)


async def sending_usage(session: AsyncSession, ids: list[UUID]) -> list[UsageEvent]:
    """Those of the uses ``ids`` whose send is under way, oldest first, locked so two reporters
    never send one at once (and a send repeated by another carries its identifier: Stripe
    dedupes it)."""
    rows = await session.exec(
        select(UsageEvent)
        .where(col(UsageEvent.id).in_(ids), col(UsageEvent.sending_quantity).is_not(None))
        .order_by(col(UsageEvent.occurred_at), col(UsageEvent.id))
        .with_for_update()
    )
    return list(rows)
