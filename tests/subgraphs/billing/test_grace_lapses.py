"""Grace days running out: nothing happens at that moment, so billing's hourly sweep announces
the free plan, through the same outbox jobs and channel a plan change uses, once per lapse,
to workers, themes and notifications (whose copies would otherwise stay on the paid plan) and
to the routers; an organization whose announcement is unknown (before billing_0009) is
announced once; a sweep whose listing went stale (another announced the lapse) announces
nothing; the sweep's listing reads subscriptions and writes none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
import time_machine
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing import tasks
from subgraphs.billing.contract import ANNOUNCE_LAPSES_JOB, PLAN_CHANGED_CHANNEL
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database, set_local
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import (
    announced_plan,
    applied,
    event,
    owner,
    post_event,
    told_white_label,
    told_workers,
    until,
)
from tests.subgraphs.billing.test_subscriptions import start
from vetrai.settings import PlatformSettings

TEAM_GRACE_DAYS = 14
STAMP = "select as_of from {} where org_id = :org"
WHITE_LABEL_STAMPS = [
    STAMP.format(f"{s}.organization_white_label") for s in ("themes", "notifications")
]


@pytest.fixture
async def service(billing_settings: PlatformSettings) -> AsyncIterator[BillingService]:
    assert billing_settings.core.redis_url
    db = Database(billing_settings.core.login_url("billing"))
    redis = Redis.from_url(billing_settings.core.redis_url)
    yield BillingService(db, redis, billing_settings, None)
    await redis.aclose()
    await db.close()


async def _customer(owner_engine: AsyncEngine, org_id: UUID | None) -> str:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select stripe_customer_id from billing.accounts where org_id = :org"),
            {"org": org_id},
        )
    assert found
    return str(found)


async def _past_due_on_team(billing: SignedClient, owner_engine: AsyncEngine) -> Caller:
    """An organization on team (told everywhere) whose payment has just failed."""
    caller = owner()
    assert caller.org_id is not None
    started = await start(billing, caller, plan="team")
    assert started["errors"] == []
    await told_workers(owner_engine, caller.org_id, "team")
    await told_white_label(owner_engine, caller.org_id, True)
    invoice = {
        "id": f"in_{uuid4().hex}",
        "customer": await _customer(owner_engine, caller.org_id),
        "subscription": started["subscription"]["id"],
    }
    failed = event("invoice.payment_failed", invoice)
    assert (await post_event(billing.client, failed)).status_code == 200
    await until(lambda: applied(owner_engine, failed["id"]), "the failure applied")
    return caller


async def _relayed(owner_engine: AsyncEngine, org_id: UUID) -> bool:
    """Whether no word of the organization's plan waits in the outbox for the routers."""
    async with owner_engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "select count(*) from outbox.messages"
                " where target = :channel and payload ->> 'org_id' = :org"
            ),
            {"channel": PLAN_CHANGED_CHANNEL, "org": str(org_id)},
        )
    return bool(waiting == 0)


async def _sweep(
    service: BillingService, days_later: float, told: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Run the sweep that many days from now, and wait there for ``told`` (the copies its
    jobs write): ARQ queues a job for the clock that enqueued it, so one the worker's relay
    enqueued in the move and did not run before it ended would wait those days out. The
    session's worker runs its own sweep (its hourly cron, due on the moved clock) beside it,
    so tests assert what was announced, not who did."""
    with time_machine.travel(timedelta(days=days_later)):
        await service.announce_lapses()
        if told is not None:
            await told()


async def _told_free(owner_engine: AsyncEngine, org_id: UUID) -> None:
    """Wait until workers, themes and notifications hold what the free plan grants."""
    await told_workers(owner_engine, org_id, "free")
    await told_white_label(owner_engine, org_id, False)


async def _heard(routers: Any, org_id: UUID, until_plan: str) -> list[str]:
    """The plans announced to routers for the organization, up to ``until_plan`` and then
    for half a second more (an announcement sent twice would arrive meanwhile)."""
    heard: list[str] = []
    deadline: float | None = None
    while deadline is None or time.monotonic() < deadline:
        message = await routers.get_message(ignore_subscribe_messages=True, timeout=0.1)
        found = orjson.loads(message["data"]) if message else {}
        if found.get("org_id") == str(org_id):
            heard.append(found["plan"])
        if deadline is None and until_plan in heard:
            deadline = time.monotonic() + 0.5
    return heard


async def test_a_lapsed_grace_period_is_announced_once_to_every_copy(
    billing: SignedClient, owner_engine: AsyncEngine, service: BillingService
) -> None:
    caller = await _past_due_on_team(billing, owner_engine)
    org = caller.org_id
    assert org is not None
    assert await announced_plan(owner_engine, org) == "team"
    # The routers' word of the team plan is relayed from the outbox by the worker: heard after
    # the subscription below, it would read as the sweep's (seen once with two xdist workers).
    await until(lambda: _relayed(owner_engine, org), "team relayed to the routers")
    routers: Any = service.redis.pubsub()
    await routers.subscribe(PLAN_CHANGED_CHANNEL)
    try:
        await _sweep(service, TEAM_GRACE_DAYS - 1)  # still within grace: nothing to tell
        assert await announced_plan(owner_engine, org) == "team"
        await _sweep(service, TEAM_GRACE_DAYS + 1, lambda: _told_free(owner_engine, org))
        assert await announced_plan(owner_engine, org) == "free"
        await _sweep(service, TEAM_GRACE_DAYS + 2)
        assert await asyncio.wait_for(_heard(routers, org, "free"), 60) == ["free"]  # once
    finally:
        await routers.aclose()
    assert org not in await service.announce_lapses()


async def test_a_sweep_whose_listing_went_stale_announces_nothing(
    billing: SignedClient, owner_engine: AsyncEngine, service: BillingService
) -> None:
    """The session worker's sweep beside a test's: it lists the organization while team is
    announced, the test's sweep (on a clock moved past the grace days) announces free, then
    the worker's announces from its listing on the real clock, where team is still granted."""
    caller = await _past_due_on_team(billing, owner_engine)
    org = caller.org_id
    assert org is not None
    assert org in await service.lapse_candidates()
    await _sweep(service, TEAM_GRACE_DAYS + 1)
    assert await announced_plan(owner_engine, org) == "free"
    assert not await service.announce_lapse(org)
    assert await announced_plan(owner_engine, org) == "free"


async def _stamps(owner_engine: AsyncEngine, org_id: UUID) -> list[datetime]:
    """The moments of billing's word that workers', themes' and notifications' copies keep."""
    async with owner_engine.connect() as connection:
        return [
            await connection.scalar(text(query), {"org": org_id})
            for query in (STAMP.format("workers.organization_limits"), *WHITE_LABEL_STAMPS)
        ]


async def test_a_lapse_is_announced_as_of_the_end_of_its_grace_days(
    billing: SignedClient, owner_engine: AsyncEngine, service: BillingService
) -> None:
    """Not as of the sweep that came by later, so the copies order it before any word given
    after the lapse."""
    caller = await _past_due_on_team(billing, owner_engine)
    org = caller.org_id
    assert org is not None
    async with owner_engine.connect() as connection:
        since = await connection.scalar(
            text("select past_due_since from billing.subscriptions where org_id = :org"),
            {"org": org},
        )
    await _sweep(service, TEAM_GRACE_DAYS + 3, lambda: _told_free(owner_engine, org))
    assert await announced_plan(owner_engine, org) == "free"
    assert await _stamps(owner_engine, org) == [since + timedelta(days=TEAM_GRACE_DAYS)] * 3


async def test_a_recovery_is_announced_by_its_event_and_the_sweep_leaves_it(
    billing: SignedClient, owner_engine: AsyncEngine, service: BillingService
) -> None:
    caller = await _past_due_on_team(billing, owner_engine)
    org = caller.org_id
    assert org is not None
    await _sweep(service, TEAM_GRACE_DAYS + 1)
    assert await announced_plan(owner_engine, org) == "free"
    subscription = await _subscription_of(owner_engine, org)
    paid = event(
        "invoice.paid",
        {
            "id": f"in_{uuid4().hex}",
            "customer": await _customer(owner_engine, org),
            "subscription": subscription,
        },
        int(time.time()) + 1,
    )
    assert (await post_event(billing.client, paid)).status_code == 200
    await until(lambda: applied(owner_engine, paid["id"]), "the payment applied")
    assert await announced_plan(owner_engine, org) == "team"
    assert org not in await service.announce_lapses()  # active again: nothing due


async def _subscription_of(owner_engine: AsyncEngine, org_id: UUID) -> str:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select id from billing.subscriptions where org_id = :org"), {"org": org_id}
        )
    return str(found)


async def _past_due_without_announcement(
    owner_engine: AsyncEngine, plan: str, days_ago: int
) -> UUID:
    """A subscription stored as one was before billing_0009: past due since ``days_ago``."""
    org = uuid4()
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "insert into billing.subscriptions (id, org_id, plan_key, status, past_due_since,"
                " without_card, state_at, created_at, updated_at, cancel_at_period_end) values"
                " (:id, :org, :plan, 'past_due', now() - make_interval(days => :days), false, 0,"
                " now(), now(), false)"
            ),
            {"id": f"sub_{uuid4().hex}", "org": org, "plan": plan, "days": days_ago},
        )
    return org


async def test_a_past_due_organization_with_no_announcement_recorded_is_announced_once(
    owner_engine: AsyncEngine, service: BillingService, worker: None
) -> None:
    """As billing_0009 finds organizations: past due on pro within its grace days, nothing
    recorded of what was announced. The sweep announces pro once, then free once it lapses."""
    org = await _past_due_without_announcement(owner_engine, "pro", days_ago=0)
    await service.announce_lapses()
    assert await announced_plan(owner_engine, org) == "pro"
    assert org not in await service.announce_lapses()
    await told_workers(owner_engine, org, "pro")
    await _sweep(service, 8, lambda: told_workers(owner_engine, org, "free"))  # pro's grace: 7 days
    assert await announced_plan(owner_engine, org) == "free"
    assert org not in await service.announce_lapses()


async def test_the_sweeps_listing_reads_subscriptions_and_writes_none(
    billing: SignedClient, billing_settings: PlatformSettings
) -> None:
    caller = owner()
    assert (await start(billing, caller))["errors"] == []
    db = Database(billing_settings.core.login_url("billing"))
    query = "select count(*) from billing.subscriptions where org_id = :org"
    try:
        async with db.transaction(Caller()) as session:
            assert await session.scalar(text(query), {"org": caller.org_id}) == 0
            await set_local(session, "app.billing_lapses", "on")
            assert await session.scalar(text(query), {"org": caller.org_id}) == 1
            changed = await session.execute(
                text("update billing.subscriptions set status = 'canceled' where org_id = :o"),
                {"o": caller.org_id},
            )
            assert changed.rowcount == 0  # type: ignore[attr-defined]
    finally:
        await db.close()


async def test_the_worker_runs_the_sweep_every_hour(
    billing_settings: PlatformSettings, owner_engine: AsyncEngine, service: BillingService
) -> None:
    [sweep] = [c for c in tasks.cron_jobs(billing_settings) if c.name == ANNOUNCE_LAPSES_JOB]
    assert (sweep.minute, sweep.hour, sweep.unique) == (7, None, True)
    org = await _past_due_without_announcement(owner_engine, "pro", days_ago=8)
    await tasks.announce_lapses({"billing": service})
    assert await announced_plan(owner_engine, org) == "free"
    assert await tasks.announce_lapses({"billing": service}) == 0  # nothing new to tell
