"""Fixtures of the keys tests that more than one file uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from subgraphs.kernel.db import Database
from subgraphs.keys.tasks import startup
from vetrai.settings import PlatformSettings


@pytest.fixture
async def worker_ctx(settings: PlatformSettings) -> AsyncIterator[dict[str, Any]]:
    """What the ARQ worker hands its tasks once ``startup`` ran."""
    assert settings.core.redis_url
    ctx: dict[str, Any] = {"redis": Redis.from_url(settings.core.redis_url)}
    url = settings.core.login_url("keys")
    db = Database(url)
    await startup(ctx, settings, db)
    yield ctx
    await db.close()
    await ctx["redis"].aclose()
