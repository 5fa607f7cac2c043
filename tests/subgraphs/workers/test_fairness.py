"""The fair queue on a real Redis: each round hands out at most one job per organization with
work, within its concurrency limit and with its concurrency key free."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis

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
        await fair.push(a, job, None)
    single = uuid4()
    await fair.push(b, single, None)
    first = await fair.round(2)
    assert sorted(first, key=lambda d: d.org_id == b) == [
        Dispatched(a, burst[0], None),
        Dispatched(b, single, None),
    ]
    assert await fair.round(2) == [Dispatched(a, burst[1], None)]
    assert await fair.round(2) == []  # a runs its limit of 2
    await fair.release(a, burst[0], None)
    assert await fair.round(2) == [Dispatched(a, burst[2], None)]


async def test_a_concurrency_key_runs_one_job_at_a_time(fair: FairQueue) -> None:
    org = uuid4()
    first, second, other = uuid4(), uuid4(), uuid4()
    await fair.push(org, first, "k")
    await fair.push(org, second, "k")
    await fair.push(org, other, "other")
    assert await fair.round(5) == [Dispatched(org, first, "k")]
    # The key is held: the round passes over the second job to one whose key is free.
    assert await fair.round(5) == [Dispatched(org, other, "other")]
    assert await fair.round(5) == []
    await fair.release(org, first, "k")
    assert await fair.round(5) == [Dispatched(org, second, "k")]


async def test_a_delayed_job_waits_and_can_be_removed(fair: FairQueue) -> None:
    org, job = uuid4(), uuid4()
    await fair.push(org, job, None, delay=60)
    assert await fair.round(2) == []
    await fair.remove(org, job, None)
    assert await fair.redis.zcard(f"{fair.prefix}:later") == 0
