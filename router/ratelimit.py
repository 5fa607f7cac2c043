"""Rate limits in Redis, one fixed window per bucket, counted atomically (one Lua script for all
the buckets of a request) so every router process shares them; the same script counts an
organization's requests for billing (per UTC hour and month), holds it to its monthly quota and
first checks auth's deny-list for the caller's session, so a request costs one round trip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from redis.asyncio import Redis

from core.caller import Caller
from router.config import RateLimits, Window
from subgraphs.auth.contract import ended_session_key
from subgraphs.billing.contract import (
    REQUESTS_PER_MINUTE,
    REQUESTS_PER_MONTH,
    REQUESTS_SPEND_CAP,
    hourly_requests_key,
    monthly_requests_key,
)

HOURLY_TTL_MS = 3 * 86_400_000
MONTHLY_TTL_MS = 40 * 86_400_000
UNCAPPED = -1
ENDED = -2

# KEYS: (when checked) the session's ended marker, the buckets, then (when counted) the hourly
# and the monthly counter. ARGV: 1 when a session is checked else 0, each bucket's window (ms)
# and limit, then the monthly cap (-1: none). The reply is {ENDED} for an ended session (nothing
# counted); else one pair per bucket (count, ms left), then the month's count and whether this
# request was counted in it.
_SCRIPT = """
local session = tonumber(ARGV[1])
if session == 1 and redis.call('EXISTS', KEYS[1]) == 1 then return {%d} end
local buckets = (#ARGV - 2) / 2
local result = {}
local allowed = true
for i = 1, buckets do
  local key = KEYS[session + i]
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
  if count > tonumber(ARGV[2 * i + 1]) then allowed = false end
  result[#result + 1] = count
  result[#result + 1] = redis.call('PTTL', key)
end
if #KEYS > session + buckets then
  local hour, month = KEYS[session + buckets + 1], KEYS[session + buckets + 2]
  local used = tonumber(redis.call('GET', month) or '0')
  local cap = tonumber(ARGV[#ARGV])
  local counted = 0
  if allowed and (cap < 0 or used < cap) then
    if redis.call('INCR', hour) == 1 then redis.call('PEXPIRE', hour, %d) end
    used = redis.call('INCR', month)
    if used == 1 then redis.call('PEXPIRE', month, %d) end
    counted = 1
  end
  result[#result + 1] = used
  result[#result + 1] = counted
end
return result
""" % (ENDED, HOURLY_TTL_MS, MONTHLY_TTL_MS)  # noqa: UP031 - Lua's braces would need escaping in an f-string


@dataclass(frozen=True)
class Bucket:
    name: str
    window: Window


@dataclass(frozen=True)
class Usage:
    """An organization's request counters for billing, and its monthly quota: ``hard`` refuses
    what is past it, else it is only reported."""

    org_id: str
    quota: int | None
    hard: bool
    capped: bool = False  # the quota is the organization's spend cap (always hard)


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


@dataclass(frozen=True)
class Spent:
    """The tightest bucket's verdict (None: no buckets), and the month's request count with
    whether this request was counted in it (None: no usage counted). ``ended``: the caller's
    session has ended, and nothing was counted."""

    verdict: Verdict | None
    used: int | None = None
    counted: bool = False
    ended: bool = False


def organization_window(caller: Caller, rules: RateLimits, plan: str | None) -> Window | None:
    """An organization's requests per minute: set for it in the config, else its billing plan's
    ``api_requests_per_minute`` (None: unlimited), else the config's window for ``plan`` (the
    plan's key as tenancy knows it, when billing does not know the organization)."""
    configured = rules.organizations.get(str(caller.org_id))
    if configured is not None:
        return configured
    if REQUESTS_PER_MINUTE in caller.limits:
        per_minute = caller.limit(REQUESTS_PER_MINUTE)
        return None if per_minute is None else Window(limit=max(per_minute, 1), window_seconds=60)
    return rules.plans.get(plan or "free")


def usage_of(caller: Caller, soft_quota: bool) -> Usage | None:
    """What an organization's requests count against (None: a caller of no organization)."""
    if caller.org_id is None:
        return None
    quota, cap = caller.limit(REQUESTS_PER_MONTH), caller.limit(REQUESTS_SPEND_CAP)
    if cap is not None and (quota is None or soft_quota or cap < quota):
        return Usage(str(caller.org_id), cap, hard=True, capped=True)
    return Usage(str(caller.org_id), quota, not soft_quota)


class RateLimiter:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._prefix = f"vetrai:ratelimit:{namespace}:"

    async def spend(
        self,
        buckets: list[Bucket],
        usage: Usage | None = None,
        now: datetime | None = None,
        session: UUID | None = None,
    ) -> Spent:
        """Unless ``session`` has ended, count one request in every bucket and, unless a bucket
        refuses it or it is past a hard quota, in the organization's hourly and monthly counters
        (``now``, UTC)."""
        if not buckets and usage is None and session is None:
            return Spent(None)
        keys = [] if session is None else [ended_session_key(session)]
        keys += [self._prefix + bucket.name for bucket in buckets]
        args: list[int] = [0 if session is None else 1]
        for bucket in buckets:
            args += [bucket.window.window_seconds * 1000, bucket.window.limit]
        if usage is not None:
            assert now is not None  # noqa: S101 - usage is counted at a moment
            keys += [
                hourly_requests_key(usage.org_id, now),
                monthly_requests_key(usage.org_id, now),
            ]
        cap = usage.quota if usage is not None and usage.hard and usage.quota is not None else None
        args.append(UNCAPPED if cap is None else cap)
        counts = await self._script(keys=keys, args=args)
        if counts == [ENDED]:
            return Spent(None, ended=True)
        verdict = _tightest(buckets, counts)
        if usage is None:
            return Spent(verdict)
        return Spent(verdict, int(counts[-2]), bool(counts[-1]))


def _tightest(buckets: list[Bucket], counts: list[int]) -> Verdict | None:
    if not buckets:
        return None
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
