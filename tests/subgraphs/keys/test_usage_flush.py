"""The edges of key usage: a flush kept out by another's lock moves nothing and leaves that lock,
a flush releases its own and keeps it while it runs past its lifetime, a flush that lost it
stops and leaves the new holder's lock, a counter already flushed writes no row, what Redis
still counts is read as far back as a counter lives and older days from PostgreSQL alone, and
nobody but a manager reads a key's usage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.caller import Caller
from subgraphs.keys import service as keys_service
from subgraphs.keys.contract import USAGE_TTL_SECONDS, usage_key
from subgraphs.keys.service import KeysService, Usage
from subgraphs.keys.tasks import flush_usage
from tests.conftest import SignedClient, eventually
from tests.subgraphs.keys.builders import count_use, issued, manager
from vetrai.settings import PlatformSettings

LOCK = "vetrai:keys:flush-lock"
# A lock lifetime short enough for a test to outlive it.
SHORT_LOCK_SECONDS = 1.0


async def _new_key(keys: SignedClient) -> tuple[Caller, UUID]:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    return owner, UUID(key_id)


def _short_locked(worker_ctx: dict[str, Any], settings: PlatformSettings) -> KeysService:
    keys = settings.keys.model_copy(update={"api_key_usage_flush_lock_seconds": SHORT_LOCK_SECONDS})
    shared: KeysService = worker_ctx["keys"]
    return KeysService(shared.db, worker_ctx["redis"], settings.model_copy(update={"keys": keys}))


@asynccontextmanager
async def _rows_locked(engine: AsyncEngine, key_ids: list[UUID]) -> AsyncIterator[AsyncConnection]:
    """The keys' rows locked, as a flush's transaction locks them, until the block ends."""
    async with engine.connect() as holder:
        await holder.execute(
            text("select id from keys.api_keys where id = any(:ids) for update"), {"ids": key_ids}
        )
        yield holder
        await holder.rollback()


async def _stalled(engine: AsyncEngine, holder: AsyncConnection) -> None:
    """Once another connection waits for a row that ``holder`` locked."""
    pid = await holder.scalar(text("select pg_backend_pid()"))
    # Asked on a connection of its own: a transaction sees one snapshot of pg_stat_activity.
    query = text("select count(*) from pg_stat_activity where :pid = any(pg_blocking_pids(pid))")
    for _ in range(500):  # 10 s
        async with engine.connect() as connection:
            if await connection.scalar(query, {"pid": pid}):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("no flush waited for the locked rows")


async def _stored(engine: AsyncEngine, key_id: UUID) -> list[tuple[date, int, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "select day, requests, rejected from keys.usage_days where key_id = :k order by day"
            ),
            {"k": key_id},
        )
        return [(r.day, r.requests, r.rejected) for r in rows]


async def _counted(redis: Redis, owner: Caller, key_id: UUID, day: date) -> list[int]:
    assert owner.org_id
    fields = redis.hmget(usage_key(owner.org_id, key_id, day), ["requests", "rejected"])
    return [int(v or 0) for v in await cast(Awaitable[list[bytes | None]], fields)]


async def test_a_flush_kept_out_by_the_lock_moves_nothing_and_leaves_the_lock(
    keys: SignedClient, worker_ctx: dict[str, Any], owner_engine: AsyncEngine
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    redis: Redis = worker_ctx["redis"]
    today = datetime.now(UTC).date()
    await count_use(redis, key_id=key_id, org_id=owner.org_id, rejected=False)
    await redis.set(LOCK, 1, ex=30)
    try:
        assert await flush_usage(worker_ctx) == 0
        assert await redis.exists(LOCK) == 1
        assert await _counted(redis, owner, key_id, today) == [1, 0]
        assert await _stored(owner_engine, key_id) == []
    finally:
        await redis.delete(LOCK)

    assert await flush_usage(worker_ctx) >= 1
    assert await redis.exists(LOCK) == 0
    assert await _stored(owner_engine, key_id) == [(today, 1, 0)]
    await count_use(redis, key_id=key_id, org_id=owner.org_id, rejected=True)
    assert await flush_usage(worker_ctx) >= 1  # the lock was released: the next flush runs
    assert await _stored(owner_engine, key_id) == [(today, 2, 1)]
    assert await _counted(redis, owner, key_id, today) == [0, 0]
    assert await flush_usage(worker_ctx) == 0  # nothing left to move


async def test_a_counter_already_flushed_writes_no_row(
    keys: SignedClient, worker_ctx: dict[str, Any], owner_engine: AsyncEngine
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    redis: Redis = worker_ctx["redis"]
    # What a flush leaves of a counter: both fields at zero until it expires.
    counter = usage_key(owner.org_id, key_id, datetime.now(UTC).date() - timedelta(days=3))
    await cast(Awaitable[int], redis.hset(counter, mapping={"requests": 0, "rejected": 0}))
    await redis.expire(counter, 60)
    await flush_usage(worker_ctx)
    assert await _stored(owner_engine, key_id) == []


async def test_a_counter_with_a_malformed_name_is_skipped_and_the_others_flushed(
    keys: SignedClient,
    worker_ctx: dict[str, Any],
    owner_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    redis: Redis = worker_ctx["redis"]
    stray = f"vetrai:keys:usage:None:{key_id}:not-a-day"
    await cast(Awaitable[int], redis.hset(stray, mapping={"requests": 1, "rejected": 0}))
    await redis.expire(stray, 60)
    day = datetime.now(UTC).date() - timedelta(days=2)
    counter = usage_key(owner.org_id, key_id, day)
    await cast(Awaitable[int], redis.hset(counter, mapping={"requests": 2, "rejected": 1}))
    await redis.expire(counter, 60)
    caplog.set_level(logging.WARNING, logger="vetrai.keys")
    try:
        await flush_usage(worker_ctx)
        await eventually(
            lambda: any(
                stray in r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records
            ),
            "the stray counter skipped",
        )
        assert await _stored(owner_engine, key_id) == [(day, 2, 1)]
    finally:
        await redis.delete(stray)


async def test_unflushed_counts_are_read_as_far_back_as_a_counter_lives(
    keys: SignedClient, worker_ctx: dict[str, Any]
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    oldest = datetime.now(UTC).date() - timedelta(seconds=USAGE_TTL_SECONDS)
    at = datetime.combine(oldest, time(12), UTC)
    await count_use(worker_ctx["redis"], key_id=key_id, org_id=owner.org_id, rejected=False, at=at)
    service: KeysService = worker_ctx["keys"]
    assert await service.usage(owner, [key_id], oldest, oldest) == [[Usage(oldest, 1, 0)]]


async def test_days_older_than_any_counter_are_read_from_postgresql_alone(
    keys: SignedClient, worker_ctx: dict[str, Any]
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    day = datetime.now(UTC).date() - timedelta(seconds=USAGE_TTL_SECONDS, days=2)
    at = datetime.combine(day, time(12), UTC)
    redis: Redis = worker_ctx["redis"]
    for rejected in (False, True):
        await count_use(redis, key_id=key_id, org_id=owner.org_id, rejected=rejected, at=at)
    await flush_usage(worker_ctx)
    service: KeysService = worker_ctx["keys"]
    assert await service.usage(owner, [key_id], day, day) == [[Usage(day, 2, 1)]]
    before = day - timedelta(days=1)
    assert await service.usage(owner, [key_id], before, before) == [[Usage(before, 0, 0)]]


async def test_the_usage_of_a_key_is_read_by_its_managers_only(
    keys: SignedClient, worker_ctx: dict[str, Any]
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    today = datetime.now(UTC).date()
    await count_use(worker_ctx["redis"], key_id=key_id, org_id=owner.org_id, rejected=False)
    service: KeysService = worker_ctx["keys"]
    assert await service.usage(owner, [key_id], today, today) == [[Usage(today, 1, 0)]]
    member = Caller(user_id=owner.user_id, org_id=owner.org_id, roles=frozenset({"member"}))
    for stranger in (manager(), member):
        assert await service.usage(stranger, [key_id], today, today) == [[]]


async def test_a_flush_running_past_its_lock_lifetime_keeps_the_lock_and_the_next_flush_out(
    keys: SignedClient,
    worker_ctx: dict[str, Any],
    owner_engine: AsyncEngine,
    settings: PlatformSettings,
) -> None:
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    redis: Redis = worker_ctx["redis"]
    service = _short_locked(worker_ctx, settings)
    await count_use(redis, key_id=key_id, org_id=owner.org_id, rejected=False)
    async with _rows_locked(owner_engine, [key_id]) as holder:
        first = asyncio.create_task(service.flush_usage())
        await _stalled(owner_engine, holder)
        await asyncio.sleep(2.5 * SHORT_LOCK_SECONDS)
        assert not first.done()
        assert await redis.exists(LOCK) == 1
        assert await service.flush_usage() == 0
    assert await first >= 1
    assert await redis.exists(LOCK) == 0
    assert await _stored(owner_engine, key_id) == [(datetime.now(UTC).date(), 1, 0)]


async def test_a_flush_renews_its_lock_after_a_wait_not_as_fast_as_redis_answers(
    keys: SignedClient,
    worker_ctx: dict[str, Any],
    owner_engine: AsyncEngine,
    settings: PlatformSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    release = asyncio.Event()

    async def held(seconds: float) -> None:
        waits.append(seconds)
        await release.wait()

    monkeypatch.setattr(keys_service, "_sleep", held)
    owner, key_id = await _new_key(keys)
    assert owner.org_id
    await count_use(worker_ctx["redis"], key_id=key_id, org_id=owner.org_id, rejected=False)
    service = _short_locked(worker_ctx, settings)
    async with _rows_locked(owner_engine, [key_id]) as holder:
        flush = asyncio.create_task(service.flush_usage())
        await _stalled(owner_engine, holder)
        await eventually(lambda: bool(waits), "the renewal waiting", seconds=10)
    release.set()
    assert await flush >= 1  # the flush moves every counter waiting, other tests' too
    assert [
        (requests, rejected) for _, requests, rejected in await _stored(owner_engine, key_id)
    ] == [(1, 0)]
    # The next renewal comes after a wait, and before the lock's lifetime ends.
    assert 0 < waits[0] < SHORT_LOCK_SECONDS


async def test_a_flush_that_lost_its_lock_stops_and_leaves_the_new_holders_lock(
    keys: SignedClient,
    worker_ctx: dict[str, Any],
    owner_engine: AsyncEngine,
    settings: PlatformSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis: Redis = worker_ctx["redis"]
    service = _short_locked(worker_ctx, settings)
    owners = [await _new_key(keys) for _ in range(2)]
    for owner, key_id in owners:
        assert owner.org_id
        await count_use(redis, key_id=key_id, org_id=owner.org_id, rejected=False)
    key_ids = [key_id for _, key_id in owners]
    try:
        async with _rows_locked(owner_engine, key_ids) as holder:
            first = asyncio.create_task(service.flush_usage())
            await _stalled(owner_engine, holder)
            # As if the lock had expired and another flush had taken it.
            await redis.set(LOCK, "another flush", ex=30)
            await asyncio.sleep(SHORT_LOCK_SECONDS)
        with caplog.at_level(logging.WARNING, logger="vetrai.keys"):
            await first
        assert "the usage flush lost its lock" in caplog.text
        assert await redis.get(LOCK) == b"another flush"
        stored = [await _stored(owner_engine, key_id) for key_id in key_ids]
        # The organization it was moving is moved; the other is left for the next flush.
        assert sorted(len(rows) for rows in stored) == [0, 1]
    finally:
        await redis.delete(LOCK)
    assert await service.flush_usage() >= 1
    assert [len(await _stored(owner_engine, key_id)) for key_id in key_ids] == [1, 1]
