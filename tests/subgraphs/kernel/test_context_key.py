"""The development context key is generated once, long and private; the replay guard remembers
a context for at least as long as the context is valid."""

from __future__ import annotations

import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from subgraphs.kernel.caller import Caller
from subgraphs.kernel.context import context_key, read_caller, sign_caller, verify_caller
from subgraphs.kernel.settings import Settings, SettingsError, load_settings


def _settings(data: Path, **changes: object) -> Settings:
    return load_settings(environment="development", data_dir=data, **changes)


def test_development_key_is_generated_once_long_and_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    key = context_key(_settings(tmp_path / "data"))
    assert len(key) >= 64  # 384 random bits, base64url
    path = tmp_path / "data" / "secrets" / "context.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert context_key(_settings(tmp_path / "data")) == key
    assert context_key(_settings(tmp_path / "elsewhere")) != key


def test_configured_key_is_used_and_production_requires_one(tmp_path: Path) -> None:
    given = SecretStr("k" * 64)
    assert context_key(_settings(tmp_path, context_key=given)) == b"k" * 64
    with pytest.raises(SettingsError, match="VETRAI_CONTEXT_KEY"):
        context_key(load_settings(environment="production", data_dir=tmp_path))
    assert not (tmp_path / "secrets").exists()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis_url
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


async def test_replay_guard_outlives_the_context(redis: Redis) -> None:
    key = b"k" * 32
    audience = f"guard-{uuid4().hex[:8]}"
    header = sign_caller(Caller(user_id=uuid4()), audience=audience, key=key, ttl=60)
    _, jti, expires = read_caller(header, audience=audience, key=key)
    await verify_caller(header, audience=audience, key=key, redis=redis)
    guard = await redis.ttl(f"vetrai:ctx:{audience}:{jti}")
    context_left = expires - time.time()
    # Remembered until the context ends, plus the clock skew a subgraph tolerates.
    assert context_left < guard <= context_left + 6
