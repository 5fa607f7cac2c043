"""Themes' Redis cache of what readers ask for most (an organization's live version and
stylesheets, the organization of a slug), so they do not go to PostgreSQL. Every entry carries
the generation it was read at; a change bumps the generation, so an entry a reader stored from
a read made before the change is never served after it, in any process."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("vetrai.themes.cache")
# A bump is sent after the commit; should it be lost (Redis down), entries still expire.
ENTRY_SECONDS = 300
SLUG_GENERATION = "vetrai:themes:slugs:generation"


def live_key(org_id: UUID) -> str:
    return f"vetrai:themes:live:{org_id}"


def live_generation(org_id: UUID) -> str:
    return f"vetrai:themes:live:{org_id}:generation"


def stylesheet_key(org_id: UUID, css_hash: str) -> str:
    """A stylesheet by its hash, of the live generation: a plan change may withhold it."""
    return f"vetrai:themes:css:{org_id}:{css_hash}"


def slug_key(slug: str) -> str:
    return f"vetrai:themes:slug:{slug}"


async def read(redis: Redis, key: str, generation: str, load: Callable[[], Awaitable[Any]]) -> Any:
    """The JSON value cached at ``key`` if it is of the current ``generation``, else ``load()``
    stored there with the generation read before loading; without Redis, ``load()``."""
    try:
        current, entry = await redis.mget(generation, key)
    except RedisError:
        return await load()
    number = int(current or 0)
    if entry is not None:
        stored = orjson.loads(entry)
        if stored["generation"] == number:
            return stored["value"]
    value = await load()
    with contextlib.suppress(RedisError):  # not stored: read again next time
        await redis.set(key, orjson.dumps({"generation": number, "value": value}), ex=ENTRY_SECONDS)
    return value


async def bump(redis: Redis, generation: str, *stale: str) -> None:
    """Make every entry of ``generation`` stale, and drop the ``stale`` keys at once. The
    change is committed already, so a Redis failure is logged, not raised: the entries expire."""
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(generation)
            if stale:
                pipe.delete(*stale)
            await pipe.execute()
    except RedisError:
        log.warning("themes cache not invalidated: %s stays up to %d s", generation, ENTRY_SECONDS)
