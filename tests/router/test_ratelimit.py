"""The rate limiter counts every bucket of a request in Redis and answers the verdict of the
tightest: refused ones first (the longest wait), else the fewest remaining."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from router.config import Window
from router.ratelimit import Bucket, RateLimiter, Verdict
from vetrai.settings import PlatformSettings

DAY = 86_400


@pytest.fixture
async def limiter(server_settings: PlatformSettings) -> AsyncIterator[RateLimiter]:
    assert server_settings.core.redis_url
    redis = Redis.from_url(server_settings.core.redis_url)
    yield RateLimiter(redis, namespace=f"test-{secrets.token_hex(6)}")
    await redis.aclose()


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
