"""Per-organization fairness in Redis: queued jobs wait in a list per organization, and each
dispatch round hands out at most one job per organization that has work, only while the
organization runs fewer jobs than the job's limit (its plan's, when it was started) and the
job's concurrency key runs none."""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

from subgraphs.workers.contract import DEFAULT_CONCURRENT_JOBS

# One round, atomically: due retries join their organization's list, then every organization
# with work gives its first job that has room under its limit and whose concurrency key is free.
# An entry is "<job>|<limit>|<key>"; no limit: unlimited.
_ROUND = """
local p, scan, now, legacy = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', p .. ':later', '-inf', now)) do
  local sep = string.find(entry, '|', 1, true)
  local org = string.sub(entry, 1, sep - 1)
  redis.call('RPUSH', p .. ':org:' .. org, string.sub(entry, sep + 1))
  redis.call('SADD', p .. ':orgs', org)
  redis.call('ZREM', p .. ':later', entry)
end
local out = {}
for _, org in ipairs(redis.call('SMEMBERS', p .. ':orgs')) do
  local q, running = p .. ':org:' .. org, p .. ':running:' .. org
  if redis.call('LLEN', q) == 0 then
    redis.call('SREM', p .. ':orgs', org)
  else
    local busy = redis.call('SCARD', running)
    for _, entry in ipairs(redis.call('LRANGE', q, 0, scan - 1)) do
      local a = string.find(entry, '|', 1, true)
      local b = string.find(entry, '|', a + 1, true)
      -- An entry without a limit field ("<job>|<key>", queued before jobs had limits) runs
      -- under the default.
      local job, limit, key = string.sub(entry, 1, a - 1), legacy, string.sub(entry, a + 1)
      if b then
        limit, key = tonumber(string.sub(entry, a + 1, b - 1)), string.sub(entry, b + 1)
      end
      local held = p .. ':key:' .. org .. ':' .. key
      if (limit == nil or busy < limit) and (key == '' or redis.call('SET', held, job, 'NX')) then
        redis.call('LREM', q, 1, entry)
        redis.call('SADD', running, job)
        table.insert(out, org)
        table.insert(out, job)
        table.insert(out, key)
        break
      end
    end
  end
end
return out
"""

_RELEASE = """
redis.call('SREM', KEYS[1], ARGV[1])
if KEYS[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('RPUSH', KEYS[3], 1)
"""

# How far into an organization's list a round looks for a job whose key is free.
SCAN = 50


@dataclass(frozen=True)
class Dispatched:
    org_id: UUID
    job_id: UUID
    key: str | None


class FairQueue:
    def __init__(self, redis: Redis, queue_name: str) -> None:
        self.redis = redis
        self.prefix = f"{queue_name}:fair"
        self.wake_key = f"{self.prefix}:wake"
        self._round = redis.register_script(_ROUND)
        self._release = redis.register_script(_RELEASE)

    def _entry(self, job_id: UUID, key: str | None, limit: int | None) -> str:
        return f"{job_id}|{'' if limit is None else limit}|{key or ''}"

    async def push(
        self, org_id: UUID, job_id: UUID, key: str | None, limit: int | None, delay: float = 0
    ) -> None:
        """Queue the job now, or after ``delay`` seconds (a retry's backoff); it starts while
        its organization runs fewer than ``limit`` jobs (None: any number)."""
        entry = self._entry(job_id, key, limit)
        async with self.redis.pipeline(transaction=True) as pipe:
            if delay > 0:
                pipe.zadd(f"{self.prefix}:later", {f"{org_id}|{entry}": time.time() + delay})
            else:
                pipe.rpush(f"{self.prefix}:org:{org_id}", entry)
                pipe.sadd(f"{self.prefix}:orgs", str(org_id))
                pipe.rpush(self.wake_key, 1)
            await pipe.execute()

    async def remove(self, org_id: UUID, job_id: UUID, key: str | None, limit: int | None) -> None:
        """Take a queued job out, whether it waits now or for a retry."""
        entry = self._entry(job_id, key, limit)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(f"{self.prefix}:org:{org_id}", 1, entry)
            pipe.zrem(f"{self.prefix}:later", f"{org_id}|{entry}")
            await pipe.execute()

    async def round(self) -> list[Dispatched]:
        """One dispatch round: the jobs that may start now, at most one per organization."""
        out = await self._round(
            keys=[self.prefix], args=[SCAN, time.time(), DEFAULT_CONCURRENT_JOBS]
        )
        values = [x.decode() if isinstance(x, bytes) else str(x) for x in out]
        return [
            Dispatched(UUID(values[i]), UUID(values[i + 1]), values[i + 2] or None)
            for i in range(0, len(values), 3)
        ]

    async def release(self, org_id: UUID, job_id: UUID, key: str | None) -> None:
        """The job stopped running: its organization and key have room again."""
        held = f"{self.prefix}:key:{org_id}:{key}" if key else ""
        running = f"{self.prefix}:running:{org_id}"
        await self._release(keys=[running, held, self.wake_key], args=[str(job_id)])

    async def wait(self, seconds: float) -> None:
        """Until something was queued or released, or ``seconds`` passed."""
        if await self.redis.blpop([self.wake_key], timeout=seconds):  # type: ignore[arg-type,misc]
            await self.redis.delete(self.wake_key)

    def runner_key(self, job_id: UUID) -> str:
        """Where the ARQ job id of the job's current run is kept (to abort it)."""
        return f"{self.prefix}:run:{job_id}"
