"""Spend alerts: the owners are told once a month when a meter's use crosses 50, 80 and 100 %
of the units the plan includes, in the transaction that recorded the use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.billing.ledger import Ledger
from subgraphs.billing.service import SPEND_ALERT_TEMPLATE, BillingService, this_month
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.usage import UsageRecord
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import tenancy_owner, until
from tests.subgraphs.billing.test_subscriptions import start
from vetrai.settings import PlatformSettings


@pytest.fixture
async def ledger(billing_settings: PlatformSettings) -> AsyncIterator[Ledger]:
    url = billing_settings.core.login_url("billing")
    assert billing_settings.core.redis_url
    db, redis = Database(url), Redis.from_url(billing_settings.core.redis_url)
    yield BillingService(db, redis, billing_settings, None).ledger
    await redis.aclose()
    await db.close()


async def _alerts(owner_engine: AsyncEngine, org_id: UUID) -> list[str]:
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "select dedupe_key from notifications.notifications"
                " where template_key = :t and org_id = :org order by created_at"
            ),
            {"t": SPEND_ALERT_TEMPLATE, "org": org_id},
        )
    return [r[0] for r in rows]


async def _use(ledger: Ledger, org_id: UUID, tickets: int) -> None:
    assert await ledger.record(UsageRecord(org_id, "tickets", tickets, utcnow(), f"t:{uuid4()}"))


async def test_each_threshold_is_told_once_a_month(
    billing: SignedClient, tenancy: SignedClient, ledger: Ledger, owner_engine: AsyncEngine
) -> None:
    caller = await tenancy_owner(tenancy, owner_engine)
    assert caller.org_id
    await start(billing, caller)  # pro: 2000 tickets included
    month = f"{this_month(utcnow())[0]:%Y%m}"
    prefix = f"{SPEND_ALERT_TEMPLATE}:{caller.org_id}:tickets:{month}"
    await _use(ledger, caller.org_id, 999)
    await _use(ledger, caller.org_id, 1)

    async def told(count: int) -> list[str] | None:
        found = await _alerts(owner_engine, caller.org_id)  # type: ignore[arg-type]
        return found if len(found) >= count else None

    assert await until(lambda: told(1), "the 50 % alert") == [f"{prefix}:50:{caller.user_id}"]
    await _use(ledger, caller.org_id, 1000)  # 80 and 100 % at once
    await _use(ledger, caller.org_id, 500)
    # The worker may store the 80 and 100 % notifications in either order.
    assert sorted(await until(lambda: told(3), "the 80 and 100 % alerts")) == sorted(
        f"{prefix}:{percent}:{caller.user_id}" for percent in (50, 80, 100)
    )
