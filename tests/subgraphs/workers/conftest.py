"""The workers service and the workers subgraph, on the session's database and queue."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from subgraphs.kernel.db import Database
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient, subgraph_client
from vetrai.settings import PlatformSettings


@pytest.fixture
async def jobs(settings: PlatformSettings) -> AsyncIterator[JobService]:
    """The workers service on the session's queue (the session's worker runs its jobs)."""
    url = settings.core.login_url("workers")
    db = Database(url)
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    yield JobService(db, redis, settings)
    await redis.aclose()
    await db.close()


@pytest.fixture(scope="session")
async def workers_subgraph(settings: PlatformSettings) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("workers", settings):
        yield client


@pytest.fixture
async def idle(jobs: JobService, settings: PlatformSettings) -> AsyncIterator[JobService]:
    """The service on a queue of this test alone, so every job stays queued."""
    queue = f"vetrai:test:{secrets.token_hex(6)}"
    yield JobService(jobs.db, jobs.redis, settings.replace(queue_name=queue))
    keys = [k async for k in jobs.redis.scan_iter(f"{queue}*")]
    if keys:
        await jobs.redis.delete(*keys)
