"""API keys of one organization are invisible to every other: through the keys subgraph, and
in the database itself, where a secret's hash opens its own key for reading and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.caller import Caller
from core.caller_context import HEADER, sign_caller
from subgraphs.kernel.db import Database, set_local
from subgraphs.kernel.migrations import role_of
from subgraphs.kernel.tokens import token_hash
from subgraphs.keys.contract import usage_key
from subgraphs.keys.service import KeysService
from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import count_use, issued, manager
from vetrai.settings import PlatformSettings

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on ApiKey { id name } ... on Organization { apiKeys { id } } } }"""
TABLES = ("api_keys", "usage_days")


async def test_direct_requests_without_the_routers_signature_get_no_keys(
    keys: SignedClient,
) -> None:
    ada = manager()
    key_id, _ = await issued(keys, ada)
    reps = {
        "r": [
            {"__typename": "ApiKey", "id": key_id},
            {"__typename": "Organization", "id": str(ada.org_id)},
        ]
    }
    unsigned = await keys.client.post("/graphql", json={"query": ENTITIES, "variables": reps})
    assert unsigned.json()["data"]["_entities"] == [None, {"apiKeys": []}]
    forged = sign_caller(ada, audience="keys", key=b"not the router's key" * 2)
    response = await keys.client.post(
        "/graphql", json={"query": ENTITIES, "variables": reps}, headers={HEADER: forged}
    )
    assert response.status_code == 401
    other_tenant = await keys.run(ENTITIES, reps, manager())
    assert other_tenant["_entities"] == [None, {"apiKeys": []}]


async def test_rls_shows_keys_only_to_their_organization_or_to_their_secret(
    keys: SignedClient, settings: PlatformSettings
) -> None:
    ada, eve = manager(), manager()
    ada_key, ada_secret = await issued(keys, ada)
    eve_key, _ = await issued(keys, eve)
    assert settings.core.redis_url
    url = settings.core.login_url("keys")
    db = Database(url)
    redis = Redis.from_url(settings.core.redis_url)
    try:
        now, counters = datetime.now(UTC), []
        for owner, key in ((ada, ada_key), (eve, eve_key)):
            assert owner.org_id
            await count_use(redis, key_id=UUID(key), org_id=owner.org_id, rejected=False, at=now)
            counters.append(usage_key(owner.org_id, UUID(key), now.date()))
        await _flushed(KeysService(db, redis, settings), redis, counters)
        async with db.transaction(Caller(org_id=eve.org_id)) as session:
            assert await session.scalar(text("select current_user")) == role_of("keys")
            for table in TABLES:
                rows = await session.execute(text(f"select org_id from keys.{table}"))  # noqa: S608
                assert {r[0] for r in rows} == {eve.org_id}, table
        async with db.transaction(Caller()) as session:
            for table in TABLES:
                visible = await session.scalar(text(f"select count(*) from keys.{table}"))  # noqa: S608
                assert visible == 0, table
            await set_local(session, "app.key_hash", token_hash(ada_secret))
            opened = await session.execute(text("select id from keys.api_keys"))
            assert [str(r[0]) for r in opened] == [ada_key]
            assert await session.scalar(text("select count(*) from keys.usage_days")) == 0
    finally:
        await redis.aclose()
        await db.close()


async def test_a_secret_hash_does_not_open_the_key_for_writing(
    keys: SignedClient, settings: PlatformSettings
) -> None:
    ada = manager()
    ada_key, ada_secret = await issued(keys, ada)
    url = settings.core.login_url("keys")
    db = Database(url)
    try:
        async with db.transaction(Caller()) as session:
            await set_local(session, "app.key_hash", token_hash(ada_secret))
            with pytest.raises(DBAPIError, match="row-level security"):
                await session.execute(
                    text("update keys.api_keys set scopes = '{billing:write}' where id = :id"),
                    {"id": ada_key},
                )
    finally:
        await db.close()


async def test_keys_tables_force_row_security(settings: PlatformSettings) -> None:
    url = settings.core.login_url("keys")
    db = Database(url)
    try:
        async with db.transaction(Caller()) as session:
            tables = await session.execute(
                text(
                    "select relname, relforcerowsecurity and relrowsecurity,"
                    " pg_get_userbyid(relowner) from pg_class"
                    " where relnamespace = 'keys'::regnamespace and relkind = 'r'"
                    " and relname <> 'alembic_version' order by relname"
                )
            )
            rows = [tuple(r) for r in tables]
    finally:
        await db.close()
    assert [name for name, _, _ in rows] == sorted(TABLES)
    assert all(forced for _, forced, _ in rows)
    assert all(owner != role_of("keys") for _, _, owner in rows)


async def _flushed(service: KeysService, redis: Redis, counters: list[str]) -> None:
    """Until ``counters`` are moved to PostgreSQL (they are emptied after the commit): the
    session's worker flushes by cron on this Redis too, and a flush finding its lock taken
    moves nothing."""
    async with asyncio.timeout(30):
        while await _waiting(redis, counters):
            await service.flush_usage()
            await asyncio.sleep(0.05)


async def _waiting(redis: Redis, counters: list[str]) -> bool:
    for counter in counters:
        requests = await cast(Awaitable[bytes | None], redis.hget(counter, "requests"))
        if int(requests or 0):
            return True
    return False
