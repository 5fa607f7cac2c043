"""The worker runs the keys subgraph's periodic usage flush."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from redis.asyncio import Redis

from subgraphs.keys.contract import usage_key
from subgraphs.keys.tasks import FLUSH_USAGE_JOB
from tests.subgraphs.keys.builders import count_use
from vetrai import worker as workers
from vetrai.settings import PlatformSettings


async def test_worker_flushes_api_key_usage_every_minute(settings: PlatformSettings) -> None:
    worker = workers.create_worker(settings)
    jobs = {job.name: job for job in worker.cron_jobs}
    assert jobs[FLUSH_USAGE_JOB].second == 0
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    ctx = {"redis": redis}
    try:
        await worker.on_startup(ctx)
        key_id, org_id = uuid4(), uuid4()
        await count_use(redis, key_id=key_id, org_id=org_id, rejected=False)
        assert await jobs[FLUSH_USAGE_JOB].coroutine(ctx) >= 1
        # a counter of a key that does not exist is emptied, never kept forever
        counter = usage_key(org_id, key_id, datetime.now(UTC).date())
        assert await redis.hget(counter, "requests") == b"0"
    finally:
        await worker.on_shutdown(ctx)
        await redis.aclose()
