"""A worker whose Redis connections are lost (a restart, a failover, a killed client) polls
again once Redis answers, rather than stopping for good."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from tests.conftest import eventually
from vetrai import worker as workers
from vetrai.settings import PlatformSettings


async def _kill_workers_connections(redis: Redis) -> int:
    """Close the connections of every worker on the server (this test's, the session's)."""
    ids = [c["id"] for c in await redis.client_list() if c["name"] == workers.CLIENT_NAME]
    for client_id in ids:
        await redis.client_kill_filter(_id=client_id)
    return len(ids)


def _losses(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.name == "vetrai.worker" and "lost Redis" in r.message for r in caplog.records)


async def test_a_worker_that_lost_its_redis_connections_takes_jobs_again(
    settings: PlatformSettings, caplog: pytest.LogCaptureFixture
) -> None:
    own_queue = settings.replace(queue_name=f"test:{secrets.token_hex(4)}")
    assert own_queue.core.redis_url
    worker = workers.create_worker(own_queue, poll_delay=0.01)
    task = asyncio.create_task(workers.run(worker))
    redis = Redis.from_url(own_queue.core.redis_url)
    caplog.set_level(logging.WARNING, logger="vetrai.worker")
    try:
        async with asyncio.timeout(60):
            await eventually(lambda: bool(worker.ctx.get(workers.STARTED)), "the worker's start")
            # A connection is lost to the worker only when it is closed while in use: kill
            # them until that happened (once in a few tries).
            while _losses(caplog) < 2:
                assert not task.done(), task
                if not await _kill_workers_connections(redis):
                    await asyncio.sleep(0.01)  # none open: the worker waits to poll again
            queue = ArqRedis(connection_pool=redis.connection_pool)
            # A job no worker knows: it is taken, and fails, only by a worker that polls.
            await queue.enqueue_job("no such job", _queue_name=own_queue.core.queue_name)
            await eventually(lambda: worker.jobs_failed == 1, "the job taken")
        assert not task.done(), task
    finally:
        workers.stop(worker)
        await task
        await redis.aclose()
