"""Rate limits in Redis, one fixed window per bucket, counted atomically (one Lua script for all
the buckets of a request) so every router process shares them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from router.config import Window

_SCRIPT = """
local result = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[i]) end
  result[#result + 1] = count
  result[#result + 1] = redis.call('PTTL', key)
end
return result
"""


@dataclass(frozen=True)
class Bucket:
    name: str
    window: Window


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["retry-after"] = str(self.reset_seconds)
        return headers


class RateLimiter:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._prefix = f"vetrai:ratelimit:{namespace}:"

    async def spend(self, buckets: list[Bucket]) -> Verdict | None:
        """Count one request in every bucket; the verdict of the tightest (None: no buckets)."""
        if not buckets:
            return None
        keys = [self._prefix + bucket.name for bucket in buckets]
        windows = [bucket.window.window_seconds * 1000 for bucket in buckets]
        counts = await self._script(keys=keys, args=windows)
        verdicts = [
            Verdict(
                allowed=counts[2 * i] <= bucket.window.limit,
                limit=bucket.window.limit,
                remaining=max(0, bucket.window.limit - counts[2 * i]),
                reset_seconds=max(1, math.ceil(max(counts[2 * i + 1], 0) / 1000)),
            )
            for i, bucket in enumerate(buckets)
        ]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            return max(refused, key=lambda v: v.reset_seconds)
        return min(verdicts, key=lambda v: (v.remaining, -v.reset_seconds))
