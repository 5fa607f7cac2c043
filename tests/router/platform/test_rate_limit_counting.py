"""The rate limiter's one Lua call against real Redis: buckets, the organization's hourly and
monthly request counters beside them, the quota and an API key's usage counter; and which
window an organization gets."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from core.caller import Caller
from router import ratelimit
from router.config import RateLimits, Window
from router.ratelimit import (
    Bucket,
    KeyUse,
    RateLimiter,
    Spent,
    Usage,
    organization_window,
    usage_of,
)
from subgraphs.auth.contract import ended_session_key
from subgraphs.billing.contract import hourly_requests_key, monthly_requests_key
from subgraphs.keys.contract import (
    REJECTED_FIELD,
    REQUESTS_FIELD,
    USAGE_TTL_SECONDS,
    last_used_key,
    usage_key,
)
from vetrai.settings import PlatformSettings

NOW = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
DAY = 86_400


@pytest.fixture
async def redis(server_settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert server_settings.core.redis_url
    client = Redis.from_url(server_settings.core.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis, f"test-{secrets.token_hex(6)}")


def bucket(limit: int, seconds: int = 60) -> Bucket:
    return Bucket(f"b-{secrets.token_hex(4)}", Window(limit=limit, window_seconds=seconds))


async def counters(redis: Redis, org: str, at: datetime = NOW) -> tuple[int, int]:
    hour = await redis.get(hourly_requests_key(org, at))
    month = await redis.get(monthly_requests_key(org, at))
    return int(hour or 0), int(month or 0)


async def test_no_buckets_and_no_usage_costs_no_round_trip() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:9")  # any call to it would raise
    assert await RateLimiter(unreachable, "none").spend([]) == Spent(None)
    await unreachable.aclose()


async def test_the_tightest_bucket_decides_and_a_refusal_names_its_wait(
    limiter: RateLimiter,
) -> None:
    loose, tight = bucket(10), bucket(2, seconds=30)
    spent = await limiter.spend([loose, tight])
    assert (spent.used, spent.counted) == (None, False)  # no organization's usage asked for
    first = spent.verdict
    assert first is not None
    assert (first.allowed, first.limit, first.remaining) == (True, 2, 1)
    assert 29 <= first.reset_seconds <= 30
    await limiter.spend([loose, tight])
    refused = (await limiter.spend([loose, tight])).verdict
    assert refused is not None
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 2, 0)
    assert refused.headers()["retry-after"] == str(refused.reset_seconds)
    assert "retry-after" not in first.headers()


async def test_an_organizations_requests_are_counted_per_hour_and_month_with_their_ttls(
    limiter: RateLimiter, redis: Redis
) -> None:
    org = str(uuid4())
    usage = Usage(org, quota=None, hard=True)
    spent = [await limiter.spend([bucket(100)], usage, NOW) for _ in range(3)]
    assert [(s.used, s.counted) for s in spent] == [(1, True), (2, True), (3, True)]
    assert await counters(redis, org) == (3, 3)
    assert 3 * DAY - 5 <= await redis.ttl(hourly_requests_key(org, NOW)) <= 3 * DAY
    assert 40 * DAY - 5 <= await redis.ttl(monthly_requests_key(org, NOW)) <= 40 * DAY
    # Counted without any bucket too (rate limits off).
    assert (await limiter.spend([], usage, NOW)).used == 4


async def test_a_hard_quota_keeps_what_is_past_it_out_of_the_counters(
    limiter: RateLimiter, redis: Redis
) -> None:
    org = str(uuid4())
    usage = Usage(org, quota=2, hard=True)
    spent = [await limiter.spend([bucket(100)], usage, NOW) for _ in range(3)]
    assert [(s.used, s.counted) for s in spent] == [(1, True), (2, True), (2, False)]
    assert await counters(redis, org) == (2, 2)


async def test_a_soft_quota_counts_past_it(limiter: RateLimiter, redis: Redis) -> None:
    org = str(uuid4())
    usage = Usage(org, quota=1, hard=False)
    spent = [await limiter.spend([bucket(100)], usage, NOW) for _ in range(2)]
    assert [(s.used, s.counted) for s in spent] == [(1, True), (2, True)]
    assert await counters(redis, org) == (2, 2)


async def test_a_request_a_bucket_refuses_is_not_counted(
    limiter: RateLimiter, redis: Redis
) -> None:
    org, full = str(uuid4()), bucket(1)
    usage = Usage(org, quota=None, hard=True)
    counted = await limiter.spend([full], usage, NOW)
    refused = await limiter.spend([full], usage, NOW)
    assert (counted.used, counted.counted) == (1, True)
    assert refused.verdict is not None
    assert not refused.verdict.allowed
    assert (refused.used, refused.counted) == (1, False)
    assert await counters(redis, org) == (1, 1)


async def key_counted(redis: Redis, use: KeyUse, at: datetime = NOW) -> tuple[int, int]:
    """The key's requests and rejected requests of ``at``'s day."""
    name = usage_key(use.org_id, use.key_id, at.date())
    counted = redis.hmget(name, [REQUESTS_FIELD, REJECTED_FIELD])
    requests, rejected = await cast(Awaitable[list[bytes | None]], counted)
    return int(requests or 0), int(rejected or 0)


async def test_a_keys_use_is_counted_in_the_same_call_with_its_last_use(
    limiter: RateLimiter, redis: Redis
) -> None:
    org = uuid4()
    use, usage = KeyUse(org, uuid4()), Usage(str(org), quota=None, hard=True)
    spent = await limiter.spend([bucket(10)], usage, NOW, key=use)
    assert (spent.used, spent.counted) == (1, True)
    assert spent.verdict is not None
    assert spent.verdict.remaining == 9
    assert await key_counted(redis, use) == (1, 0)
    assert await redis.get(last_used_key(use.key_id)) == NOW.isoformat().encode()
    counter = usage_key(org, use.key_id, NOW.date())
    for name in (counter, last_used_key(use.key_id)):
        assert USAGE_TTL_SECONDS - 5 <= await redis.ttl(name) <= USAGE_TTL_SECONDS
    # Counted alone too: rate limits off and no organization's usage asked for.
    assert await limiter.spend([], now=NOW, key=use) == Spent(None)
    assert await key_counted(redis, use) == (2, 0)
    assert await counters(redis, str(org)) == (1, 1)


async def test_a_keys_request_is_rejected_when_denied_refused_or_past_a_hard_quota(
    limiter: RateLimiter, redis: Redis
) -> None:
    org = uuid4()
    denied = KeyUse(org, uuid4(), denied=True)
    await limiter.spend([bucket(10)], None, NOW, key=denied)
    assert await key_counted(redis, denied) == (1, 1)

    refusing, full = KeyUse(org, uuid4()), bucket(1)
    await limiter.spend([full], None, NOW, key=refusing)
    await limiter.spend([full], None, NOW, key=refusing)
    assert await key_counted(redis, refusing) == (2, 1)

    quota, other = KeyUse(org, uuid4()), str(uuid4())
    for _ in range(3):
        await limiter.spend([], Usage(other, quota=2, hard=True), NOW, key=quota)
    assert await key_counted(redis, quota) == (3, 1)

    soft = KeyUse(org, uuid4())
    for _ in range(2):
        await limiter.spend([], Usage(str(uuid4()), quota=0, hard=False), NOW, key=soft)
    assert await key_counted(redis, soft) == (2, 0)


async def test_an_ended_sessions_request_counts_no_keys_use(
    limiter: RateLimiter, redis: Redis
) -> None:
    session, use = uuid4(), KeyUse(uuid4(), uuid4())
    await redis.set(ended_session_key(session), 1, ex=60)
    assert await limiter.spend([], None, NOW, session, use) == Spent(None, ended=True)
    assert await key_counted(redis, use) == (0, 0)
    assert await redis.get(last_used_key(use.key_id)) is None


async def test_the_next_hour_day_and_month_are_counted_in_counters_of_their_own(
    limiter: RateLimiter, redis: Redis
) -> None:
    org = uuid4()
    use, usage = KeyUse(org, uuid4()), Usage(str(org), quota=None, hard=True)
    # 17:30, 18:10 (the next hour), 00:30 (the next day), the day after, then the next month:
    # the same limiter names each moment's counters.
    hour, day = NOW + timedelta(minutes=40), NOW + timedelta(hours=7)
    again, month = NOW + timedelta(days=2), NOW + timedelta(days=31)
    for at in (NOW, hour, hour, day, again, month):
        await limiter.spend([], usage, at, key=use)
    assert [await counters(redis, str(org), at) for at in (NOW, hour, day, month)] == [
        (1, 5),
        (2, 5),
        (1, 5),
        (1, 1),
    ]
    assert [await key_counted(redis, use, at) for at in (NOW, day, again, month)] == [
        (3, 0),
        (1, 0),
        (1, 0),
        (1, 0),
    ]
    assert await redis.get(last_used_key(use.key_id)) == month.isoformat().encode()


async def test_the_counters_names_kept_are_of_at_most_so_many_callers(
    limiter: RateLimiter, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "NAMES_KEPT", 2)
    orgs = [uuid4() for _ in range(5)]
    for org in orgs:
        await limiter.spend(
            [], Usage(str(org), quota=None, hard=True), NOW, key=KeyUse(org, uuid4())
        )
        assert len(limiter._orgs) + len(limiter._keys) <= 4  # two more before they are forgotten
    assert [await counters(redis, str(org)) for org in orgs] == [(1, 1)] * 5
    org = orgs[-1]
    kept = limiter._orgs[str(org)]
    await limiter.spend([], Usage(str(org), quota=None, hard=True), NOW)
    assert limiter._orgs[str(org)] is kept  # named once in the hour, not for each request
    assert await counters(redis, str(org)) == (2, 2)


def test_an_organizations_window_is_the_configs_then_its_plans_then_the_plans_table() -> None:
    org = uuid4()
    rules = RateLimits(
        plans={
            "free": Window(limit=7, window_seconds=60),
            "pro": Window(limit=8, window_seconds=60),
        },
        organizations={str(org): Window(limit=5, window_seconds=10)},
    )
    planned = Caller(org_id=org, plan="pro", limits={"api_requests_per_minute": 600})
    assert organization_window(planned, rules, "pro") == Window(limit=5, window_seconds=10)
    other = Caller(org_id=uuid4(), plan="pro", limits={"api_requests_per_minute": 600})
    assert organization_window(other, rules, "pro") == Window(limit=600, window_seconds=60)
    closed = Caller(org_id=uuid4(), plan="x", limits={"api_requests_per_minute": 0})
    assert organization_window(closed, rules, "pro") == Window(limit=1, window_seconds=60)
    unlimited = Caller(org_id=uuid4(), plan="x", limits={"api_requests_per_minute": True})
    assert organization_window(unlimited, rules, "pro") is None
    unknown = Caller(org_id=uuid4())
    assert organization_window(unknown, rules, "pro") == Window(limit=8, window_seconds=60)
    assert organization_window(unknown, rules, None) == Window(limit=7, window_seconds=60)
    assert organization_window(unknown, rules, "enterprise") is None


def test_usage_is_an_organizations_with_its_monthly_quota() -> None:
    org = uuid4()
    caller = Caller(org_id=org, plan="free", limits={"api_requests_per_month": 10_000})
    assert usage_of(caller, soft_quota=False) == Usage(str(org), 10_000, hard=True)
    assert usage_of(caller, soft_quota=True) == Usage(str(org), 10_000, hard=False)
    assert usage_of(Caller(org_id=org), soft_quota=False) == Usage(str(org), None, hard=True)
    assert usage_of(Caller(user_id=uuid4()), soft_quota=False) is None
