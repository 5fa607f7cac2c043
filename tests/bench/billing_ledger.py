"""The usage ledger on this machine: ingest (``record_usage`` in a transaction -> outbox -> ARQ
worker -> ledger, and the ledger's own write alone), the flush of the router's hourly counters,
and the latency of ``usage(meter, from, to)`` over a month and a year of hourly sums.

Run with `.venv/bin/python -m tests.bench.billing_ledger` from the repository root (embedded
PostgreSQL and Redis under a temporary folder); not part of CI.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import uuid4

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import select

from core.caller import Caller
from core.caller_context import HEADER, context_key, sign_caller
from subgraphs.billing.contract import hourly_requests_key
from subgraphs.billing.ledger import SETTLE, Ledger, hour_of
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import Database, async_url, utcnow
from subgraphs.kernel.migrations import migrate
from subgraphs.kernel.outbox import Relay
from subgraphs.kernel.usage import UsageRecord, record_usage
from tests.bench.stack import run_on_stack
from vetrai import worker as workers
from vetrai.devstack import create_database, on_database
from vetrai.platform import all_migrations, domain, logins
from vetrai.settings import PlatformSettings

EVENTS = 2_000
PRODUCERS = 5  # the pool's size: more would only queue for connections
COUNTERS = 1_000
USAGE = """query($r: [_Any!]!, $from: Date!, $to: Date!) { _entities(representations: $r) {
  ... on Organization { billing { usage(meter: "tickets", from: $from, to: $to) {
  total included overage } } } } }"""


async def _count(db_url: str, prefix: str) -> int:
    engine = create_async_engine(async_url(db_url))
    async with engine.connect() as connection:
        found = await connection.scalar(
            text("select count(*) from billing.usage_events where idempotency_key like :p"),
            {"p": f"{prefix}%"},
        )
    await engine.dispose()
    return int(found or 0)


async def _concurrently(count: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Seconds to run ``one(i)`` for every i below ``count``, ``PRODUCERS`` at a time."""
    started = time.perf_counter()
    queue = iter(range(count))

    async def producer() -> None:
        for i in queue:
            await one(i)

    await asyncio.gather(*(producer() for _ in range(PRODUCERS)))
    return time.perf_counter() - started


async def ingest_through_the_worker(settings: PlatformSettings, db: Database) -> None:
    running = workers.create_worker(settings, poll_delay=0.01)
    task = asyncio.create_task(workers.run(running))
    prefix = f"bench:{secrets.token_hex(3)}:"
    orgs = [uuid4() for _ in range(20)]

    async def stage(i: int) -> None:
        org = orgs[i % len(orgs)]
        async with db.transaction(Caller(org_id=org)) as session:
            await record_usage(session, org, "tickets", 1, f"{prefix}{i}")

    started = time.perf_counter()
    staged = await _concurrently(EVENTS, stage)
    assert settings.core.database_url
    while await _count(settings.core.database_url, prefix) < EVENTS:  # noqa: ASYNC110 - polling the database
        await asyncio.sleep(0.05)
    total = time.perf_counter() - started
    workers.stop(running)
    await task
    print(
        f"ingest via outbox + worker: {EVENTS} events in {total:.1f} s ="
        f" {EVENTS / total:.0f} events/s (staging alone {EVENTS / staged:.0f}/s,"
        f" {PRODUCERS} producers)"
    )


async def empty_transactions(db: Database) -> None:
    """For scale: what one transaction that does nothing costs here now."""
    started = time.perf_counter()
    for _ in range(200):
        async with db.transaction(Caller(org_id=uuid4())) as session:
            await session.exec(select(1))
    print(f"an empty transaction: {(time.perf_counter() - started) / 200 * 1000:.2f} ms")


async def ingest_direct(ledger: Ledger) -> None:
    orgs = [uuid4() for _ in range(20)]
    now = utcnow()

    async def write(i: int) -> None:
        await ledger.record(UsageRecord(orgs[i % 20], "tickets", 1, now, f"direct:{uuid4()}"))

    took = await _concurrently(EVENTS, write)
    print(f"ledger write alone: {EVENTS / took:.0f} events/s ({PRODUCERS} writers)")


async def flush(ledger: Ledger, redis: Redis) -> None:
    hour = hour_of(utcnow()) - timedelta(hours=1)
    for _ in range(COUNTERS):
        await redis.set(hourly_requests_key(str(uuid4()), hour), 123)
    started = time.perf_counter()
    moved = await ledger.flush_requests()
    took = time.perf_counter() - started
    print(
        f"flush: {moved} org-hour counters in {took:.2f} s ({moved / took:.0f}/s); lag = the"
        f" cron's minute + {SETTLE.seconds} s settling + this"
    )


async def usage_latency(settings: PlatformSettings, db_url: str) -> None:
    org = uuid4()
    engine = create_async_engine(async_url(db_url))
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "insert into billing.usage_hours (org_id, meter, hour, quantity)"
                " select :org, 'tickets', date_trunc('hour', now()) - n * interval '1 hour', 3"
                " from generate_series(0, 24 * 366) n"
            ),
            {"org": org},
        )
    await engine.dispose()
    app = domain("billing").create_app(settings)
    key = context_key(settings.core)
    caller = Caller(user_id=uuid4(), org_id=org, roles=frozenset({"owner"}))
    today = utcnow().date()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:
        for name, days in (("month", 30), ("year", 365)):
            times = []
            for _ in range(50):
                body = {
                    "query": USAGE,
                    "variables": {
                        "r": [{"__typename": "Organization", "id": str(org)}],
                        "from": (today - timedelta(days=days)).isoformat(),
                        "to": today.isoformat(),
                    },
                }
                headers = {HEADER: sign_caller(caller, audience="billing", key=key)}
                started = time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert "errors" not in response.json(), response.text
            times.sort()
            print(
                f"usage over a {name}: median {statistics.median(times):.1f} ms,"
                f" p95 {times[int(len(times) * 0.95) - 1]:.1f} ms"
            )
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


async def bench(stack_settings: PlatformSettings) -> None:
    assert stack_settings.core.database_url
    name = f"bench_{secrets.token_hex(3)}"
    url = await create_database(stack_settings.core.database_url, name)
    settings = on_database(stack_settings, name).replace(
        queue_name=f"vetrai:bench:{secrets.token_hex(3)}"
    )
    await asyncio.to_thread(migrate, url, all_migrations(), logins(settings))
    app_url = settings.core.login_url("billing")
    assert settings.core.redis_url
    db, redis = Database(app_url), Redis.from_url(settings.core.redis_url)
    db.after_commit = Relay(db, redis, settings.core.queue_name).after_commit  # as subgraphs do
    ledger = Ledger(db, redis, catalogue().meters)
    try:
        await empty_transactions(db)
        await ingest_direct(ledger)
        await ingest_through_the_worker(settings, db)
        await flush(ledger, redis)
        await usage_latency(settings, url)
    finally:
        await redis.aclose()
        await db.close()


def main() -> None:
    run_on_stack(bench)


if __name__ == "__main__":
    main()
