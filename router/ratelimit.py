"""Rate limits in Redis, one fixed window per bucket, counted atomically (one Lua script for all
the buckets of a request) so every router process shares them; the same script counts an
organization's requests for billing (per UTC hour and month), holds it to its monthly quota,
counts a request made with an API key in keys' usage counters and first checks auth's deny-list
for the caller's session, so a request costs one round trip."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

from redis.asyncio import Redis

from core.caller import Caller
from router.config import RateLimits, Window
from router.resp import Address, Pool, Script
from subgraphs.auth.contract import ended_session_key
from subgraphs.billing.contract import (
    REQUESTS_PER_MINUTE,
    REQUESTS_PER_MONTH,
    REQUESTS_SPEND_CAP,
    hourly_requests_key,
    monthly_requests_key,
)
from subgraphs.keys.contract import (
    REJECTED_FIELD,
    REQUESTS_FIELD,
    USAGE_TTL_SECONDS,
    last_used_key,
    usage_key,
)

HOURLY_TTL_MS = 3 * 86_400_000
MONTHLY_TTL_MS = 40 * 86_400_000
UNCAPPED = -1
ENDED = -2
NO_KEY, KEY_USED, KEY_DENIED = 0, 1, 2
NAMES_KEPT = 4096  # callers whose counters' names are kept for the hour

# KEYS: (when checked) the session's ended marker, the buckets, (when counted) the hourly and
# the monthly counter, then (for a key) the key's counter of the day and its last-used stamp.
# ARGV: 1 when a session is checked else 0, 1 when usage is counted else 0, the monthly cap
# (-1: none), the key's use (NO_KEY, KEY_USED, or KEY_DENIED: refused already), the moment of
# use, then each bucket's window (ms) and limit. The reply is {ENDED} for an ended session
# (nothing counted); else one pair per bucket (count, ms left), then (when counted) the month's
# count and whether this request was counted in it. A key's request is counted as rejected when
# it was denied, a bucket refused it or the quota kept it out of the month's count.
_LUA = """
local session, usage = tonumber(ARGV[1]), tonumber(ARGV[2])
if session == 1 and redis.call('EXISTS', KEYS[1]) == 1 then return {%(ended)d} end
local cap, key = tonumber(ARGV[3]), tonumber(ARGV[4])
local buckets = (#ARGV - 5) / 2
local result = {}
local allowed = true
for i = 1, buckets do
  local bucket = KEYS[session + i]
  local count = redis.call('INCR', bucket)
  if count == 1 then redis.call('PEXPIRE', bucket, ARGV[4 + 2 * i]) end
  if count > tonumber(ARGV[5 + 2 * i]) then allowed = false end
  result[#result + 1] = count
  result[#result + 1] = redis.call('PTTL', bucket)
end
local rest = session + buckets
local rejected = key == %(denied)d or not allowed
if usage == 1 then
  local hour, month = KEYS[rest + 1], KEYS[rest + 2]
  rest = rest + 2
  local used = tonumber(redis.call('GET', month) or '0')
  local counted = 0
  if allowed and (cap < 0 or used < cap) then
    if redis.call('INCR', hour) == 1 then redis.call('PEXPIRE', hour, %(hourly)d) end
    used = redis.call('INCR', month)
    if used == 1 then redis.call('PEXPIRE', month, %(monthly)d) end
    counted = 1
  else
    rejected = true
  end
  result[#result + 1] = used
  result[#result + 1] = counted
end
if key ~= %(none)d then
  local counter = KEYS[rest + 1]
  redis.call('HINCRBY', counter, '%(requests)s', 1)
  if rejected then redis.call('HINCRBY', counter, '%(rejected)s', 1) end
  redis.call('EXPIRE', counter, %(usage_ttl)d)
  redis.call('SET', KEYS[rest + 2], ARGV[5], 'EX', %(usage_ttl)d)
end
return result
"""
# Lua's braces would need escaping in an f-string
_SCRIPT = Script(
    _LUA
    % {
        "ended": ENDED,
        "denied": KEY_DENIED,
        "none": NO_KEY,
        "hourly": HOURLY_TTL_MS,
        "monthly": MONTHLY_TTL_MS,
        "requests": REQUESTS_FIELD,
        "rejected": REJECTED_FIELD,
        "usage_ttl": USAGE_TTL_SECONDS,
    }
)


# Named tuples, not dataclasses: a request makes several, and a frozen dataclass costs about
# three times a tuple to make.
class KeyUse(NamedTuple):
    """A request made with an API key, counted in keys' usage counters; ``denied``: refused
    already (by authorization), so counted as rejected."""

    org_id: UUID
    key_id: UUID
    denied: bool = False


class Bucket(NamedTuple):
    name: str
    window: Window


class Usage(NamedTuple):
    """An organization's request counters for billing, and its monthly quota: ``hard`` refuses
    what is past it, else it is only reported."""

    org_id: str
    quota: int | None
    hard: bool
    capped: bool = False  # the quota is the organization's spend cap (always hard)


class Verdict(NamedTuple):
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


class Spent(NamedTuple):
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
    """Sends its script on connections of its own (``router.resp``), made with ``redis``'s
    settings."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._pool = Pool(Address.of(redis))
        self._prefix = f"vetrai:ratelimit:{namespace}:"
        # The counters' names of this hour (they name it, or its day), by organization and by
        # key: formatting a moment and a UUID costs more than the rest of the request's packing.
        self._hour: tuple[int, int, int, int] | None = None
        self._orgs: dict[str, tuple[str, str]] = {}
        self._keys: dict[tuple[UUID, UUID], tuple[str, str]] = {}

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def spend(
        self,
        buckets: list[Bucket],
        usage: Usage | None = None,
        now: datetime | None = None,
        session: UUID | None = None,
        key: KeyUse | None = None,
    ) -> Spent:
        """Unless ``session`` has ended, count one request in every bucket and, unless a bucket
        refuses it or it is past a hard quota, in the organization's hourly and monthly counters
        (``now``, UTC), and a request made with ``key`` in its usage of the day."""
        if not buckets and usage is None and session is None and key is None:
            return Spent(None)
        keys = [] if session is None else [ended_session_key(session)]
        keys += [self._prefix + bucket.name for bucket in buckets]
        cap = usage.quota if usage is not None and usage.hard and usage.quota is not None else None
        used, stamp = NO_KEY, ""
        if usage is not None or key is not None:
            assert now is not None  # noqa: S101 - usage and a key's use are counted at a moment
            self._this_hour(now)
            if usage is not None:
                keys += self._orgs.get(usage.org_id) or self._org_counters(usage.org_id, now)
            if key is not None:
                keys += self._keys.get((key.org_id, key.key_id)) or self._key_counters(key, now)
                used, stamp = KEY_DENIED if key.denied else KEY_USED, now.isoformat()
        args: list[int | str] = [
            0 if session is None else 1,
            0 if usage is None else 1,
            UNCAPPED if cap is None else cap,
            used,
            stamp,
        ]
        for bucket in buckets:
            args += [bucket.window.window_seconds * 1000, bucket.window.limit]
        # the script answers a list of integers
        counts = cast("list[int]", await self._pool.evaluate(_SCRIPT, keys, args))
        if counts == [ENDED]:
            return Spent(None, ended=True)
        verdict = _tightest(buckets, counts)
        if usage is None:
            return Spent(verdict)
        return Spent(verdict, int(counts[-2]), bool(counts[-1]))

    def _this_hour(self, now: datetime) -> None:
        """Forget the counters' names of an hour past, and of more callers than ``NAMES_KEPT``."""
        hour = (now.year, now.month, now.day, now.hour)
        if hour != self._hour or len(self._orgs) + len(self._keys) > NAMES_KEPT:
            self._hour, self._orgs, self._keys = hour, {}, {}

    def _org_counters(self, org_id: str, now: datetime) -> tuple[str, str]:
        names = hourly_requests_key(org_id, now), monthly_requests_key(org_id, now)
        self._orgs[org_id] = names
        return names

    def _key_counters(self, key: KeyUse, now: datetime) -> tuple[str, str]:
        names = usage_key(key.org_id, key.key_id, now.date()), last_used_key(key.key_id)
        self._keys[key.org_id, key.key_id] = names
        return names


def _tightest(buckets: list[Bucket], counts: list[int]) -> Verdict | None:
    if not buckets:
        return None
    if len(buckets) == 1:  # the usual case, without the comparisons
        return _verdict(buckets[0], counts[0], counts[1])
    verdicts = [
        _verdict(bucket, counts[2 * i], counts[2 * i + 1]) for i, bucket in enumerate(buckets)
    ]
    refused = [v for v in verdicts if not v.allowed]
    if refused:
        return max(refused, key=lambda v: v.reset_seconds)
    return min(verdicts, key=lambda v: (v.remaining, -v.reset_seconds))


def _verdict(bucket: Bucket, count: int, ms_left: int) -> Verdict:
    return Verdict(
        allowed=count <= bucket.window.limit,
        limit=bucket.window.limit,
        remaining=max(0, bucket.window.limit - count),
        reset_seconds=max(1, -(-ms_left // 1000)),  # whole seconds, rounded up
    )
