"""The usage ledger: a use kept once per key with its hour's sum, reported with the change that
caused it (and not when it rolls back) by the subgraphs that meter usage, and the router's hourly
request counters moved in once their hour is over; every row visible only to its organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.contract import hourly_requests_key
from subgraphs.billing.ledger import Ledger, hour_of, parse_counter, router_key
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.migrations import role_of
from subgraphs.kernel.usage import UsageRecord, record_usage
from subgraphs.notifications.contract import NotificationRequest, Recipient
from subgraphs.notifications.service import NotificationService
from subgraphs.support.service import NewTicket, SupportService
from subgraphs.workers.service import JobService
from tests.conftest import unique_email
from tests.subgraphs.billing.builders import until
from tests.subgraphs.workers.builders import NOOP, request
from vetrai.settings import PlatformSettings


@pytest.fixture
async def app_db(settings: PlatformSettings) -> AsyncIterator[Database]:
    url = settings.core.login_url("billing")
    db = Database(url)
    yield db
    await db.close()


@pytest.fixture
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def ledger(app_db: Database, redis: Redis) -> Ledger:
    return Ledger(app_db, redis, catalogue().meters)


async def _kept(owner_engine: AsyncEngine, key: str) -> tuple[str, int] | None:
    async with owner_engine.connect() as connection:
        row = (
            await connection.execute(
                text("select meter, quantity from billing.usage_events where idempotency_key = :k"),
                {"k": key},
            )
        ).first()
    return (row[0], row[1]) if row else None


async def _hour(owner_engine: AsyncEngine, org_id: UUID, meter: str, hour: datetime) -> int:
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text(
                "select quantity from billing.usage_hours"
                " where org_id = :org and meter = :meter and hour = :hour"
            ),
            {"org": org_id, "meter": meter, "hour": hour},
        )
    return int(found or 0)


async def test_a_use_reported_twice_is_kept_once_and_summed_into_its_hour(
    ledger: Ledger, owner_engine: AsyncEngine
) -> None:
    org, at = uuid4(), utcnow()
    first = UsageRecord(org, "tickets", 2, at, f"test:{uuid4()}")
    assert await ledger.record(first) is True
    assert await ledger.record(first) is False
    assert await ledger.record(UsageRecord(org, "tickets", 3, at, f"test:{uuid4()}")) is True
    assert await _kept(owner_engine, first.key) == ("tickets", 2)
    assert await _hour(owner_engine, org, "tickets", hour_of(at)) == 5


async def test_a_meter_no_plan_counts_is_dropped(ledger: Ledger, owner_engine: AsyncEngine) -> None:
    unknown = UsageRecord(uuid4(), "gigabytes", 1, utcnow(), f"test:{uuid4()}")
    assert await ledger.record(unknown) is False
    assert await _kept(owner_engine, unknown.key) is None


def test_a_usage_record_refuses_what_cannot_be_counted() -> None:
    with pytest.raises(ValueError, match="not a usage record"):
        UsageRecord(uuid4(), "tickets", 0, utcnow(), "test:zero")
    with pytest.raises(ValueError, match="not a usage record"):
        UsageRecord(uuid4(), "Tickets!", 1, utcnow(), "test:name")
    with pytest.raises(ValueError, match="not a usage record"):
        UsageRecord(uuid4(), "tickets", 1, utcnow(), "")


async def _report_then_fail(db: Database, org: UUID, key: str) -> None:
    async with db.transaction(Caller(org_id=org)) as session:
        await record_usage(session, org, "jobs", 1, key)
        raise RuntimeError("the change failed")


async def test_usage_is_reported_with_its_change_and_not_with_a_rollback(
    app_db: Database, owner_engine: AsyncEngine, worker: None
) -> None:
    org = uuid4()
    undone, done = f"test:{uuid4()}", f"test:{uuid4()}"
    with pytest.raises(RuntimeError):
        await _report_then_fail(app_db, org, undone)
    async with app_db.transaction(Caller(org_id=org)) as session:
        await record_usage(session, org, "jobs", 4, done)
    assert await until(lambda: _kept(owner_engine, done), "the reported use") == ("jobs", 4)
    assert await _kept(owner_engine, undone) is None


async def test_tickets_jobs_and_notifications_report_their_usage(
    settings: PlatformSettings,
    redis: Redis,
    owner_engine: AsyncEngine,
    notification_service: NotificationService,
    worker: None,
) -> None:
    org = uuid4()
    member = Caller(user_id=uuid4(), org_id=org, roles=frozenset({"member"}))
    support_db = Database(settings.core.login_url("support"))
    workers_db = Database(settings.core.login_url("workers"))
    try:
        support = SupportService(support_db, redis, settings, None)
        new = NewTicket(title="Help", body="<p>Hi</p>")
        ticket = await support.create_ticket(member, org, new)
        jobs = JobService(workers_db, redis, settings)
        job = await jobs.start(request(org, NOOP.name))
        await jobs.begin(org, job.id)
    finally:
        await support_db.close()
        await workers_db.close()
    [sent] = await notification_service.notify(
        NotificationRequest(
            template_key="message",
            category="product",
            recipients=[Recipient(email=unique_email())],
            idempotency_key=str(uuid4()),
            data={"title": "Hi", "body": "Hello"},
            org_id=org,
        )
    )
    for key, meter in (
        (f"ticket:{ticket.id}", "tickets"),
        (f"job:{job.id}", "jobs"),
        (f"notification:{sent.id}", "notifications"),
    ):
        assert await until(lambda k=key: _kept(owner_engine, k), key) == (meter, 1)


async def _flushed(ledger: Ledger, redis: Redis, *names: str) -> None:
    """Flush until the counters are gone (the worker's cron may hold the flush meanwhile)."""

    async def gone() -> bool:
        await ledger.flush_requests()
        return not await redis.exists(*names)

    await until(gone, "the counters flushed")


async def test_finished_hours_are_flushed_once_and_the_current_hour_waits(
    ledger: Ledger, redis: Redis, owner_engine: AsyncEngine
) -> None:
    org, now = uuid4(), hour_of(utcnow())
    earlier = now - timedelta(hours=3)
    past, current = hourly_requests_key(str(org), earlier), hourly_requests_key(str(org), now)
    await redis.set(past, 5)
    await redis.set(current, 3)
    await _flushed(ledger, redis, past)
    assert await _kept(owner_engine, router_key(org, earlier)) == ("api_requests", 5)
    assert await _hour(owner_engine, org, "api_requests", earlier) == 5
    assert await redis.get(current) == b"3"
    assert await _kept(owner_engine, router_key(org, now)) is None

    await redis.set(past, 5)  # the delete was lost: the flush runs again, nothing changes
    await _flushed(ledger, redis, past)
    assert await _hour(owner_engine, org, "api_requests", earlier) == 5
    await redis.delete(current)


async def test_requests_counted_late_raise_their_hour_without_counting_twice(
    ledger: Ledger, redis: Redis, owner_engine: AsyncEngine
) -> None:
    org = uuid4()
    earlier = hour_of(utcnow()) - timedelta(hours=2)
    name = hourly_requests_key(str(org), earlier)
    await redis.set(name, 7)
    await _flushed(ledger, redis, name)
    await redis.set(name, 9)  # a router counted two more after the first flush read 7
    await _flushed(ledger, redis, name)
    assert await _kept(owner_engine, router_key(org, earlier)) == ("api_requests", 9)
    assert await _hour(owner_engine, org, "api_requests", earlier) == 9


def test_only_the_routers_counter_names_are_read() -> None:
    org = uuid4()
    at = datetime(2026, 11, 3, 14, tzinfo=UTC)
    assert parse_counter(hourly_requests_key(str(org), at)) == (org, at)
    assert parse_counter("vetrai:billing:requests:not-an-org:2026110314") is None
    assert parse_counter(f"vetrai:billing:requests:{org}:yesterday") is None


async def test_one_flush_at_a_time(ledger: Ledger, redis: Redis) -> None:
    org = uuid4()
    name = hourly_requests_key(str(org), hour_of(utcnow()) - timedelta(hours=5))
    await redis.set(name, 1)
    await redis.set("vetrai:billing:flush-requests:lock", 1, ex=5)
    try:
        assert await ledger.flush_requests() == 0
        assert await redis.get(name) == b"1"
    finally:
        await redis.delete("vetrai:billing:flush-requests:lock")
    await _flushed(ledger, redis, name)


async def test_rls_shows_usage_only_to_its_organization(
    ledger: Ledger, app_db: Database, settings: PlatformSettings
) -> None:
    ada, eve, at = uuid4(), uuid4(), utcnow()
    await ledger.record(UsageRecord(ada, "tickets", 1, at, f"test:{uuid4()}"))
    await ledger.record(UsageRecord(eve, "tickets", 1, at, f"test:{uuid4()}"))
    async with app_db.transaction(Caller(org_id=eve)) as session:
        assert await session.scalar(text("select current_user")) == role_of("billing")
        for table in ("usage_events", "usage_hours"):
            rows = await session.execute(text(f"select distinct org_id from billing.{table}"))  # noqa: S608
            assert [r[0] for r in rows] == [eve], table
    async with app_db.transaction(Caller()) as session:
        for table in ("usage_events", "usage_hours"):
            assert await session.scalar(text(f"select count(*) from billing.{table}")) == 0  # noqa: S608
    with pytest.raises(DBAPIError):
        async with app_db.transaction(Caller(org_id=eve)) as session:
            await session.execute(
                text(
                    "insert into billing.usage_events (id, org_id, meter, quantity, occurred_at,"
                    " idempotency_key, source, recorded_at) values (gen_random_uuid(), :ada,"
                    " 'tickets', 1, now(), :key, 'test', now())"
                ),
                {"ada": ada, "key": f"test:{uuid4()}"},
            )
    with pytest.raises(DBAPIError):
        async with app_db.transaction(Caller(org_id=eve)) as session:
            await session.execute(
                text("update billing.usage_hours set org_id = :ada where org_id = :eve"),
                {"ada": ada, "eve": eve},
            )
