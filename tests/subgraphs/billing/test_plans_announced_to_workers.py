"""Billing tells workers what each organization's plan grants of ``concurrent_jobs`` and
``job_history_days``: on every plan change (a durable job through the outbox, run by the
worker), and once by the migration that announces every subscribed organization's effective
plan (organizations that never subscribed are on the free plan, which workers assumes
unannounced)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.billing.app import DOMAIN
from subgraphs.kernel.db import utcnow
from subgraphs.kernel.migrations import _config
from subgraphs.workers import contract as workers
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import granted_to_workers, owner, told_workers
from tests.subgraphs.billing.test_subscriptions import CHANGE, start

SUBSCRIPTION = """insert into billing.subscriptions (id, org_id, plan_key, status, past_due_since,
  without_card, state_at, created_at, updated_at, cancel_at_period_end)
  values (:id, :org, :plan, :status, :since, :without_card, 0, :created, now(), false)"""


async def test_a_plan_change_tells_workers_its_limits(
    billing: SignedClient, owner_engine: AsyncEngine, worker: None
) -> None:
    caller = owner()
    assert caller.org_id is not None
    assert (await start(billing, caller, plan="team"))["errors"] == []
    await told_workers(owner_engine, caller.org_id, "team")
    down = await billing.run(CHANGE, {"org": str(caller.org_id), "plan": "pro"}, caller)
    assert down["changePlan"]["errors"] == []
    await told_workers(owner_engine, caller.org_id, "pro")


async def test_the_migration_announces_every_subscribed_organizations_effective_plan(
    migrated_database: tuple[str, AsyncEngine],
) -> None:
    url, engine = migrated_database
    billing = _config(url, DOMAIN.migrations)
    await asyncio.to_thread(command.downgrade, billing, "billing_0006")
    now = utcnow()
    pro, unpaid, upgraded = uuid4(), uuid4(), uuid4()
    rows = [
        (pro, "pro", "active", None, False, now),
        # A trial that ended unpaid without a card: the free plan.
        (unpaid, "team", "past_due", now, True, now),
        # The newest subscription counts, not the one before it.
        (upgraded, "pro", "canceled", None, False, now - timedelta(days=30)),
        (upgraded, "team", "active", None, False, now),
    ]
    async with engine.begin() as connection:
        for org, plan, status, since, without_card, created in rows:
            values = {"id": f"sub_{uuid4().hex}", "org": org, "plan": plan, "status": status}
            values |= {"since": since, "without_card": without_card, "created": created}
            await connection.execute(text(SUBSCRIPTION), values)
    await asyncio.to_thread(command.upgrade, billing, "head")
    async with engine.connect() as connection:
        found = await connection.execute(
            text("select payload, job_id from outbox.messages where target = :job"),
            {"job": workers.PLAN_JOB},
        )
        staged = {UUID(row.payload[0]): (row.payload, row.job_id) for row in found}
    assert {org: payload[1] for org, (payload, _) in staged.items()} == {
        pro: granted_to_workers("pro"),
        unpaid: granted_to_workers("free"),
        upgraded: granted_to_workers("team"),
    }
    # The jobs are those stage_plan stages.
    stamp = datetime.fromisoformat(staged[pro][0][2])
    for org, (payload, job_id) in staged.items():
        assert workers.plan_job(org, payload[1], stamp) == (payload, job_id)
