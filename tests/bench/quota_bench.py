"""What counting an organization's requests for billing adds to its rate limit: the Redis
commands and the time of one spend with the organization's bucket only, and with its hourly and
monthly counters and quota as well (one Lua call either way). Run from the repository root:

    .venv/bin/python -m tests.bench.quota_bench [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from datetime import UTC, datetime
from uuid import uuid4

from redis.asyncio import Redis

from router.config import Window
from router.ratelimit import Bucket, RateLimiter, Usage
from vetrai.devstack import start_stack
from vetrai.settings import load_settings

ROUNDS = 5


async def _scripts_run(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_eval"))


async def measure(requests: int) -> None:
    settings = start_stack(load_settings(), say=lambda _: None, database=False).settings
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    limiter = RateLimiter(redis, f"bench-{secrets.token_hex(4)}")
    org = str(uuid4())
    buckets = [Bucket(f"org:{org}", Window(limit=10**9, window_seconds=60))]
    cases = {
        "rate limit only": None,
        "rate limit + counters + quota": Usage(org, quota=10**9, hard=True),
    }
    for name, usage in cases.items():
        now = datetime.now(UTC)
        await limiter.spend(buckets, usage, now)  # loads the script
        before = await _scripts_run(redis)
        samples = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(requests):
                await limiter.spend(buckets, usage, now)
            samples.append((time.perf_counter() - started) / requests * 1e6)
        per_spend = (await _scripts_run(redis) - before) / (ROUNDS * requests)
        print(
            f"{name:32} {statistics.median(samples):8.1f} µs/spend (wall), "
            f"{per_spend:.2f} scripts run/spend"
        )
    await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(measure(parser.parse_args().requests))


if __name__ == "__main__":
    main()
