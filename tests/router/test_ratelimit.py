"""The rate limiter counts every bucket of a request in Redis (on connections of its own) and
answers the verdict of the tightest: refused ones first (the longest wait), else the fewest
remaining; a request of a session on auth's deny-list is answered as ended, with nothing
counted."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from router.config import Window
from router.ratelimit import Bucket, RateLimiter, Spent, Usage, Verdict
from subgraphs.auth.contract import ended_session_key
from tests.conftest import eventually
from vetrai.settings import PlatformSettings

DAY = 86_400


@pytest.fixture
async def redis(server_settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert server_settings.core.redis_url
    client = Redis.from_url(server_settings.core.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis, namespace=f"test-{secrets.token_hex(6)}")


def named_limiter(settings: PlatformSettings) -> tuple[str, RateLimiter]:
    """A limiter on a client of its own, whose connections carry the name returned."""
    name = f"limiter-{secrets.token_hex(4)}"
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url, client_name=name)
    return name, RateLimiter(client, namespace=name)


def bucket(name: str, limit: int, seconds: int) -> Bucket:
    return Bucket(name, Window(limit=limit, window_seconds=seconds))


async def test_no_bucket_is_no_verdict(limiter: RateLimiter) -> None:
    assert (await limiter.spend([])).verdict is None


async def test_the_limit_itself_is_allowed_and_one_more_is_refused(limiter: RateLimiter) -> None:
    day = [bucket("day", 2, DAY)]

    first, at_limit, beyond = [(await limiter.spend(day)).verdict for _ in range(3)]

    # Counted and timed in one script: a fresh window has all of its seconds left.
    assert first == Verdict(allowed=True, limit=2, remaining=1, reset_seconds=DAY)
    assert at_limit is not None
    assert beyond is not None
    assert (at_limit.allowed, at_limit.remaining) == (True, 0)
    assert (beyond.allowed, beyond.remaining) == (False, 0)
    assert "retry-after" not in at_limit.headers()
    assert beyond.headers() == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "0",
        "ratelimit-reset": str(beyond.reset_seconds),
        "retry-after": str(beyond.reset_seconds),
    }
    assert DAY - 60 < beyond.reset_seconds <= DAY


async def test_a_one_second_window_resets_in_one_second(limiter: RateLimiter) -> None:
    verdict = (await limiter.spend([bucket("second", 5, 1)])).verdict
    assert verdict == Verdict(allowed=True, limit=5, remaining=4, reset_seconds=1)


async def test_the_fewest_remaining_of_several_buckets_is_the_verdict(
    limiter: RateLimiter,
) -> None:
    loose, tight = bucket("loose", 3, DAY), bucket("tight", 1, 60)

    assert (await limiter.spend([loose, tight])).verdict == Verdict(True, 1, 0, 60)
    refused = (await limiter.spend([tight, loose])).verdict
    assert refused is not None
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 1, 0)
    assert refused.reset_seconds <= 60


async def test_equally_tight_buckets_answer_the_later_reset(limiter: RateLimiter) -> None:
    minute, day = bucket("minute", 2, 60), bucket("day", 2, DAY)
    assert (await limiter.spend([minute, day])).verdict == Verdict(True, 2, 1, DAY)


async def test_of_several_refusals_the_longest_wait_is_the_verdict(limiter: RateLimiter) -> None:
    minute, day = bucket("minute", 1, 60), bucket("day", 1, DAY)
    await limiter.spend([minute, day])

    refused = (await limiter.spend([day, minute])).verdict
    assert refused is not None
    assert (refused.allowed, refused.limit) == (False, 1)
    assert refused.reset_seconds > 60


async def test_a_refusal_wins_over_a_bucket_at_its_limit_that_resets_later(
    limiter: RateLimiter,
) -> None:
    day, minute = bucket("day", 2, DAY), bucket("minute", 1, 60)
    await limiter.spend([day, minute])

    refused = (
        await limiter.spend([day, minute])
    ).verdict  # the day at its limit, the minute past it
    assert refused is not None
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 1, 0)
    assert refused.reset_seconds <= 60


async def test_an_ended_session_is_answered_as_ended_and_counts_nothing(
    limiter: RateLimiter, redis: Redis
) -> None:
    session, org = uuid.uuid4(), str(uuid.uuid4())
    minute, usage, now = [bucket("minute", 1, 60)], Usage(org, 10, hard=True), datetime.now(UTC)
    await redis.set(ended_session_key(session), 1, ex=60)

    ended = await limiter.spend(minute, usage, now, session)
    live = await limiter.spend(minute, usage, now, uuid.uuid4())

    assert ended.ended
    assert ended.verdict is None
    assert not live.ended
    # the ended session's request took no slot of the bucket and no request of the month
    assert live.verdict == Verdict(allowed=True, limit=1, remaining=0, reset_seconds=60)
    assert (live.used, live.counted) == (1, True)


async def test_a_live_session_alone_is_checked_without_buckets(
    limiter: RateLimiter, redis: Redis
) -> None:
    session = uuid.uuid4()
    assert await limiter.spend([], session=session) == Spent(None)
    await redis.set(ended_session_key(session), 1, ex=60)
    assert await limiter.spend([], session=session) == Spent(None, ended=True)


async def test_the_script_is_sent_again_once_the_server_no_longer_holds_it(
    limiter: RateLimiter, redis: Redis
) -> None:
    minute = [bucket("minute", 5, 60)]
    assert (await limiter.spend(minute)).verdict == Verdict(True, 5, 4, 60)
    await redis.script_flush()
    assert (await limiter.spend(minute)).verdict == Verdict(True, 5, 3, 60)
    assert (await limiter.spend(minute)).verdict == Verdict(True, 5, 2, 60)


async def test_a_connection_the_server_closed_is_not_used_again(
    server_settings: PlatformSettings, redis: Redis
) -> None:
    # Only the limiter's own connections are closed: others of this process (the session's
    # worker, a router's listener) are not this test's to lose.
    name, limiter = named_limiter(server_settings)
    minute = [bucket("minute", 5, 60)]
    await limiter.spend(minute)
    [own] = [c["id"] for c in await redis.client_list() if c["name"] == name]
    assert await redis.client_kill_filter(_id=own) == 1
    connection = limiter._pool._connection
    assert connection is not None
    await eventually(lambda: not connection.open, "the close read")
    assert (await limiter.spend(minute)).verdict == Verdict(True, 5, 3, 60)
    await limiter.aclose()


async def test_the_limiters_connections_are_its_clients_and_close_with_it(
    server_settings: PlatformSettings, redis: Redis
) -> None:
    name, limiter = named_limiter(server_settings)

    async def named() -> int:
        return sum(1 for c in await redis.client_list() if c["name"] == name)

    await asyncio.gather(*(limiter.spend([bucket("minute", 5, 60)]) for _ in range(2)))
    assert await named() == 1  # made as the client's own are: with its settings; one for both
    await limiter.aclose()
    async with asyncio.timeout(30):  # until the server has read the closes
        while await named():  # noqa: ASYNC110 - Redis announces no client leaving
            await asyncio.sleep(0.02)


async def test_an_error_reply_is_a_redis_error_and_the_connection_stays_in_step(
    server_settings: PlatformSettings, redis: Redis
) -> None:
    name = f"limiter-{secrets.token_hex(4)}"
    assert server_settings.core.redis_url
    client = Redis.from_url(server_settings.core.redis_url, client_name=name)
    limiter = RateLimiter(client, namespace=name)

    async def ids() -> set[str]:
        return {c["id"] for c in await redis.client_list() if c["name"] == name}

    minute = [bucket("minute", 5, 60)]
    await limiter.spend(minute)
    first = await ids()
    await redis.set(f"vetrai:ratelimit:{name}:broken", "not a number")  # INCR refuses it
    with pytest.raises(RedisError):
        await limiter.spend([bucket("broken", 5, 60)])
    assert (await limiter.spend(minute)).verdict == Verdict(True, 5, 3, 60)
    assert len(first) == 1
    assert await ids() == first  # one connection, used again after the error
    await limiter.aclose()
    await client.aclose()
