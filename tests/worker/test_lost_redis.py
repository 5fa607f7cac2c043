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


def test_losses_in_a_row_wait_twice_as_long_each_time_up_to_the_maximum() -> None:
    waits, delay = [], 0.0
    for _ in range(9):
        delay = workers.retry_delay(delay, ran_for=0.1)
        waits.append(delay)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert workers.retry_delay(30.0, ran_for=workers.REDIS_RETRY_MAX_SECONDS) == 30.0
    # a poll loop that ran longer than the longest wait had Redis back: the next loss is a first
    assert workers.retry_delay(30.0, ran_for=workers.REDIS_RETRY_MAX_SECONDS + 1) == 0.5


async def test_a_stop_during_a_long_wait_ends_the_wait(settings: PlatformSettings) -> None:
    worker = workers.create_worker(settings.replace(queue_name=f"test:{secrets.token_hex(4)}"))
    try:
        waiting = asyncio.create_task(workers._waited(worker, workers.REDIS_RETRY_MAX_SECONDS))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        workers.stop(worker)
        async with asyncio.timeout(workers.REDIS_RETRY_MAX_SECONDS / 3):
            assert await waiting is False
        assert await workers._waited(worker, 0.01) is False
    finally:
        await worker.close()


async def test_a_wait_nobody_stops_lasts_its_time(settings: PlatformSettings) -> None:
    worker = workers.create_worker(settings.replace(queue_name=f"test:{secrets.token_hex(4)}"))
    try:
        started = asyncio.get_running_loop().time()
        assert await workers._waited(worker, 0.3) is True
        assert asyncio.get_running_loop().time() - started >= 0.3
    finally:
        await worker.close()
