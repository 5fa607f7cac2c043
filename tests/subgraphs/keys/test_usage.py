"""Usage of a key: the router's Redis counters, the periodic flush to PostgreSQL, and the
``usage`` and ``lastUsedAt`` fields that read both."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.keys.contract import usage_key
from subgraphs.keys.tasks import cron_jobs, flush_usage
from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import count_use, issued, manager
from vetrai.settings import PlatformSettings

USAGE = """query($id: ID!, $from: Date!, $to: Date!) { apiKey(id: $id) {
  lastUsedAt usage(from: $from, to: $to) { day requests rejected } } }"""


async def _use(
    redis: Redis,
    owner: Caller,
    key_id: str,
    n: int,
    *,
    rejected: int = 0,
    at: datetime | None = None,
) -> None:
    assert owner.org_id
    for i in range(n):
        await count_use(
            redis, key_id=UUID(key_id), org_id=owner.org_id, rejected=i < rejected, at=at
        )


async def _usage(keys: SignedClient, caller: Caller, key_id: str, start: date, end: date) -> Any:
    variables = {"id": key_id, "from": start.isoformat(), "to": end.isoformat()}
    return (await keys.run(USAGE, variables, caller))["apiKey"]


async def test_usage_counts_before_and_after_the_flush(
    keys: SignedClient, worker_ctx: dict[str, Any], owner_engine: AsyncEngine
) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    redis: Redis = worker_ctx["redis"]
    today = datetime.now(UTC).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC)
    await _use(redis, owner, key_id, 2, at=yesterday_noon)
    await _use(redis, owner, key_id, 5, rejected=2)
    expected = [
        {"day": (today - timedelta(days=2)).isoformat(), "requests": 0, "rejected": 0},
        {"day": (today - timedelta(days=1)).isoformat(), "requests": 2, "rejected": 0},
        {"day": today.isoformat(), "requests": 5, "rejected": 2},
    ]
    before = await _usage(keys, owner, key_id, today - timedelta(days=2), today)
    assert before["usage"] == expected
    last_used = datetime.fromisoformat(before["lastUsedAt"])
    assert datetime.now(UTC) - last_used < timedelta(seconds=30)

    assert await flush_usage(worker_ctx) >= 2
    after = await _usage(keys, owner, key_id, today - timedelta(days=2), today)
    assert after["usage"] == expected
    async with owner_engine.connect() as connection:
        stored = await connection.execute(
            text(
                "select day, requests, rejected from keys.usage_days where key_id = :k order by day"
            ),
            {"k": key_id},
        )
        assert [tuple(r) for r in stored] == [
            (today - timedelta(days=1), 2, 0),
            (today, 5, 2),
        ]
        recorded = await connection.scalar(
            text("select last_used_at from keys.api_keys where id = :k"), {"k": key_id}
        )
    assert recorded == last_used
    assert owner.org_id
    counter = usage_key(owner.org_id, UUID(key_id), today)
    pending = await cast(Awaitable[list[bytes]], redis.hmget(counter, ["requests", "rejected"]))
    assert [int(v or 0) for v in pending] == [0, 0]

    await _use(redis, owner, key_id, 1)
    later = await _usage(keys, owner, key_id, today, today)
    assert later["usage"] == [{"day": today.isoformat(), "requests": 6, "rejected": 2}]
    await flush_usage(worker_ctx)
    assert (await _usage(keys, owner, key_id, today, today))["usage"] == later["usage"]


async def test_counters_of_unknown_keys_are_dropped_by_the_flush(
    worker_ctx: dict[str, Any], owner_engine: AsyncEngine
) -> None:
    ghost, org = uuid4(), uuid4()
    await count_use(worker_ctx["redis"], key_id=ghost, org_id=org, rejected=False)
    await flush_usage(worker_ctx)
    async with owner_engine.connect() as connection:
        stored = await connection.scalar(
            text("select count(*) from keys.usage_days where key_id = :k"), {"k": ghost}
        )
    assert stored == 0


async def test_usage_range_is_bounded_and_private(keys: SignedClient) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    today = datetime.now(UTC).date()
    backwards = await _usage(keys, owner, key_id, today, today - timedelta(days=1))
    assert backwards["usage"] == []
    long = await _usage(keys, owner, key_id, today - timedelta(days=5000), today)
    assert len(long["usage"]) == 366
    assert long["usage"][-1]["day"] == today.isoformat()
    assert await _usage(keys, manager(), key_id, today, today) is None


async def test_one_flush_at_a_time(worker_ctx: dict[str, Any]) -> None:
    redis: Redis = worker_ctx["redis"]
    await redis.set("vetrai:keys:flush-lock", 1, ex=5)
    try:
        assert await flush_usage(worker_ctx) == 0
    finally:
        await redis.delete("vetrai:keys:flush-lock")


def test_the_flush_runs_every_minute(settings: PlatformSettings) -> None:
    [job] = cron_jobs(settings)
    assert job.coroutine is flush_usage
    assert (job.second, job.minute) == (0, None)
