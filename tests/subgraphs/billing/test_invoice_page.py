"""A page of invoices and its total count come from one snapshot: an invoice stored while the
page is being read is in both or in neither."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database, utcnow
from tests.subgraphs.billing.builders import owner
from vetrai.settings import PlatformSettings


async def _store_invoice(owner_engine: AsyncEngine, org_id: UUID, age: timedelta) -> None:
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "insert into billing.invoices (id, org_id, status, total_cents, currency,"
                " created, state_at) values (:id, :org, 'paid', 2900, 'usd', :created, 0)"
            ),
            {"id": f"in_{uuid4().hex}", "org": org_id, "created": utcnow() - age},
        )


@pytest.fixture
async def service(billing_settings: PlatformSettings) -> AsyncIterator[BillingService]:
    url = billing_settings.core.login_url("billing")
    assert billing_settings.core.redis_url
    db, redis = Database(url), Redis.from_url(billing_settings.core.redis_url)
    yield BillingService(db, redis, billing_settings, None)
    await redis.aclose()
    await db.close()


async def test_an_invoice_stored_mid_read_is_counted_and_listed_alike(
    service: BillingService, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    assert caller.org_id
    org_id = caller.org_id
    for days in (2, 1):
        await _store_invoice(owner_engine, org_id, timedelta(days=days))
    reads: list[str] = []

    def store_after_the_first_read(*args: Any) -> None:
        statement: str = args[2]
        if "billing.invoices" in statement:
            reads.append(statement)
            if len(reads) == 1:  # a second statement of the same read would now see it
                await_only(_store_invoice(owner_engine, org_id, timedelta()))

    engine = service.db.engine.sync_engine
    event.listen(engine, "after_cursor_execute", store_after_the_first_read)
    try:
        found = await service.invoices(caller, org_id, 10, None)
    finally:
        event.remove(engine, "after_cursor_execute", store_after_the_first_read)
    assert (found.total, len(found.page.items)) == (2, 2)
    assert len(reads) == 1
    later = await service.invoices(caller, org_id, 10, None)
    assert (later.total, len(later.page.items)) == (3, 3)


async def test_an_empty_page_still_has_the_count(
    service: BillingService, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    assert caller.org_id
    await _store_invoice(owner_engine, caller.org_id, timedelta(days=1))
    first = await service.invoices(caller, caller.org_id, 1, None)
    assert (first.total, first.page.has_next) == (1, False)
    after = service.cursor(first.page.items[0])
    beyond = await service.invoices(caller, caller.org_id, 1, after)
    assert (beyond.total, beyond.page.items) == (1, [])
    assert (await service.invoices(owner(), caller.org_id, 10, None)).total == 0
