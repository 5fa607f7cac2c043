"""The transactional outbox: a side effect committed with its change is sent even when Redis
dropped the connection right after the commit, and a relayed message is sent once."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.kernel.db import Database
from subgraphs.kernel.outbox import Relay, stage_announcement
from subgraphs.tenancy.models import Role
from subgraphs.tenancy.service import TenancyService
from tests.conftest import emailed, unique_email, unique_slug
from vetrai.settings import PlatformSettings

# Nothing listens there: every command fails as on a dropped connection.
DEAD_REDIS = "redis://127.0.0.1:9"


@pytest.fixture
async def database(settings: PlatformSettings) -> AsyncIterator[Database]:
    url = settings.core.login_url("tenancy")
    db = Database(url)
    yield db
    await db.close()


async def test_invitation_email_survives_redis_dropping_after_the_commit(
    settings: PlatformSettings, database: Database, owner_engine: AsyncEngine, worker: None
) -> None:
    dead = Redis.from_url(DEAD_REDIS)
    database.after_commit = Relay(database, dead, settings.core.queue_name).after_commit
    tenancy = TenancyService(database, dead, settings)
    owner = Caller(user_id=uuid4())
    org = await tenancy.create_organization(owner, "Acme", unique_slug(), {})
    email = unique_email("invited")
    await tenancy.invite(Caller(user_id=owner.user_id, org_id=org.id), org.id, email, Role.MEMBER)
    # The flush after the commit failed; the worker's relay sends what it left.
    assert "Acme" in await emailed(owner_engine, email, "invitation")
    await dead.aclose()


async def test_relayed_announcement_is_sent_once_and_removed(
    settings: PlatformSettings, database: Database, owner_engine: AsyncEngine
) -> None:
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    channel = f"test:outbox:{secrets.token_hex(4)}"
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1)  # the subscription's confirmation
    async with database.transaction(Caller()) as session:
        await stage_announcement(session, channel, {"event": "changed"})
    relay = Relay(database, redis, settings.core.queue_name)
    while await relay.send():
        pass
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None
    assert message["data"] == b'{"event":"changed"}'
    assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    async with owner_engine.connect() as connection:
        left = await connection.scalar(
            text("select count(*) from outbox.messages where target = :c"), {"c": channel}
        )
    assert left == 0
    await pubsub.aclose()
    await redis.aclose()
