"""What the webhook's answer leaves behind: the event and the job applying it, written by one
statement; nothing sent to Redis (the worker's relay sends the job, the worker applies it); a
duplicate or forged delivery adds nothing. In a database of its own, which no worker relays, so
what the answer staged is still there to count."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from arq.jobs import Job, JobDef
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.billing.contract import APPLY_EVENT_JOB
from subgraphs.kernel.db import Database, async_url
from subgraphs.kernel.outbox import Relay
from tests.conftest import database_of_our_own, subgraph_client
from tests.subgraphs.billing.builders import (
    WEBHOOK_SECRET,
    applied,
    event,
    post_event,
    signature,
)
from vetrai import worker as workers
from vetrai.platform import RELAY
from vetrai.settings import PlatformSettings

STAGED = "select target, payload from outbox.messages where job_id = :job"


@pytest.fixture(scope="module")
async def unrelayed(server_settings: PlatformSettings) -> AsyncIterator[PlatformSettings]:
    async with database_of_our_own(server_settings) as mine:
        yield mine.replace(stripe_webhook_secret=SecretStr(WEBHOOK_SECRET))


@pytest.fixture(scope="module")
async def owner(unrelayed: PlatformSettings) -> AsyncIterator[AsyncEngine]:
    assert unrelayed.core.database_url
    engine = create_async_engine(async_url(unrelayed.core.database_url), poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def queue(unrelayed: PlatformSettings) -> AsyncIterator[Redis]:
    assert unrelayed.core.redis_url
    redis = Redis.from_url(unrelayed.core.redis_url)
    yield redis
    await redis.aclose()


async def _left(owner: AsyncEngine, event_id: str) -> tuple[int, list[tuple[str, Any]]]:
    """The stored copies of the event and the outbox messages of its job."""
    async with owner.connect() as connection:
        events = await connection.scalar(
            text("select count(*) from billing.webhook_events where id = :id"), {"id": event_id}
        )
        staged = await connection.execute(text(STAGED), {"job": f"{APPLY_EVENT_JOB}:{event_id}"})
        return int(events or 0), [tuple(row) for row in staged]


async def _queued(queue: Redis, settings: PlatformSettings, event_id: str) -> JobDef | None:
    """The job applying the event, if it is on the queue."""
    job_id = f"{APPLY_EVENT_JOB}:{event_id}"
    return await Job(job_id, queue, _queue_name=settings.core.queue_name).info()


async def test_a_delivery_stores_the_event_with_its_job_and_sends_nothing_before_answering(
    unrelayed: PlatformSettings, owner: AsyncEngine, queue: Redis
) -> None:
    payload = event("invoice.paid", {"customer": "cus_nobody"})
    async for billing in subgraph_client("billing", unrelayed):
        for _ in range(2):  # Stripe delivers again when an answer was lost: nothing new
            response = await post_event(billing.client, payload)
            assert response.status_code == 200, response.text
    assert await _left(owner, payload["id"]) == (1, [(APPLY_EVENT_JOB, [payload["id"]])])
    assert await _queued(queue, unrelayed, payload["id"]) is None


async def test_a_forged_delivery_stores_and_stages_nothing(
    unrelayed: PlatformSettings, owner: AsyncEngine
) -> None:
    payload = event("invoice.paid", {"customer": "cus_nobody"})
    body = orjson.dumps(payload)
    async for billing in subgraph_client("billing", unrelayed):
        stale = int(time.time()) - 301
        for forged in (
            signature(body, "whsec_x"),
            signature(body + b" "),
            signature(body, at=stale),
        ):
            headers = {"stripe-signature": forged}
            response = await billing.client.post("/stripe/webhook", content=body, headers=headers)
            assert response.status_code == 400
    assert await _left(owner, payload["id"]) == (0, [])


async def test_the_relay_sends_the_staged_job_once_and_the_worker_applies_the_event(
    unrelayed: PlatformSettings, owner: AsyncEngine, queue: Redis
) -> None:
    payload = event("invoice.paid", {"customer": "cus_nobody"})
    async for billing in subgraph_client("billing", unrelayed):
        assert (await post_event(billing.client, payload)).status_code == 200
    relay_db = Database(unrelayed.core.login_url(RELAY))
    relay = Relay(relay_db, queue, unrelayed.core.queue_name)
    assert await relay.send() >= 1
    assert await relay.send() == 0
    await relay_db.close()
    assert await _left(owner, payload["id"]) == (1, [])
    sent = await _queued(queue, unrelayed, payload["id"])
    assert sent is not None
    assert (sent.function, sent.args) == (APPLY_EVENT_JOB, (payload["id"],))
    assert not await applied(owner, payload["id"])
    await workers.run(workers.create_worker(unrelayed, burst=True, poll_delay=0.01))
    assert await applied(owner, payload["id"])
