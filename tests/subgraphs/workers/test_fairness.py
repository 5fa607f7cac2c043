"""The fair queue on a real Redis: each round hands out at most one job per organization with
work, within its concurrency limit and with its concurrency key free."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from subgraphs.workers.contract import DEFAULT_CONCURRENT_JOBS
from subgraphs.workers.fair import Dispatched, FairQueue
from vetrai.settings import PlatformSettings


@pytest.fixture
async def fair(settings: PlatformSettings) -> AsyncIterator[FairQueue]:
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    queue = FairQueue(redis, f"vetrai:test:{secrets.token_hex(6)}")
    yield queue
    keys = [k async for k in redis.scan_iter(f"{queue.prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_a_burst_of_one_organization_delays_another_by_one_round_at_most(
    fair: FairQueue,
) -> None:
    a, b = uuid4(), uuid4()
    burst = [uuid4() for _ in range(1000)]
    for job in burst:
        await fair.push(a, job, None, 2)
    single = uuid4()
    await fair.push(b, single, None, 2)
    first = await fair.round()
    assert sorted(first, key=lambda d: d.org_id == b) == [
        Dispatched(a, burst[0], None),
        Dispatched(b, single, None),
    ]
    assert await fair.round() == [Dispatched(a, burst[1], None)]
    assert await fair.round() == []  # a runs its limit of 2
    await fair.release(a, burst[0], None)
    assert await fair.round() == [Dispatched(a, burst[2], None)]


async def test_a_concurrency_key_runs_one_job_at_a_time(fair: FairQueue) -> None:
    org = uuid4()
    first, second, other = uuid4(), uuid4(), uuid4()
    await fair.push(org, first, "k", 5)
    await fair.push(org, second, "k", 5)
    await fair.push(org, other, "other", None)
    assert await fair.round() == [Dispatched(org, first, "k")]
    # The key is held: the round passes over the second job to one whose key is free.
    assert await fair.round() == [Dispatched(org, other, "other")]
    assert await fair.round() == []
    await fair.release(org, first, "k")
    assert await fair.round() == [Dispatched(org, second, "k")]


async def test_a_delayed_job_waits_and_can_be_removed(fair: FairQueue) -> None:
    org, job = uuid4(), uuid4()
    await fair.push(org, job, None, 2, delay=60)
    assert await fair.round() == []
    await fair.remove(org, job, None, 2)
    assert await fair.redis.zcard(f"{fair.prefix}:later") == 0


async def test_each_job_starts_under_the_limit_it_was_queued_with(fair: FairQueue) -> None:
    org = uuid4()
    one, two, three = uuid4(), uuid4(), uuid4()
    await fair.push(org, one, None, 1)
    await fair.push(org, two, None, 1)
    await fair.push(org, three, "k|with|bars", 2)
    assert await fair.round() == [Dispatched(org, one, None)]
    # The second may run only alone; the third, queued with a limit of 2, goes past it.
    assert await fair.round() == [Dispatched(org, three, "k|with|bars")]
    assert await fair.round() == []
    await fair.release(org, one, None)
    await fair.release(org, three, "k|with|bars")
    assert await fair.round() == [Dispatched(org, two, None)]


async def test_a_job_queued_before_jobs_had_limits_runs_under_the_default(
    fair: FairQueue,
) -> None:
    org = uuid4()
    jobs = [uuid4() for _ in range(DEFAULT_CONCURRENT_JOBS + 1)]
    await fair.redis.rpush(f"{fair.prefix}:org:{org}", *[f"{j}|" for j in jobs])  # type: ignore[misc]
    await fair.redis.sadd(f"{fair.prefix}:orgs", str(org))  # type: ignore[misc]
    handed = [await fair.round() for _ in jobs]
    assert handed == [[Dispatched(org, j, None)] for j in jobs[:-1]] + [[]]
