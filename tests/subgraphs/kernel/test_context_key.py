"""The development context key is generated once, long and private; every claim survives the
trip; a context from the future is refused; the replay guard outlives the context."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import orjson
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from core.caller import Caller
from core.caller_context import (
    InvalidContext,
    context_key,
    read_caller,
    sign_caller,
    verify_caller,
)
from core.settings import CoreSettings, SettingsError
from vetrai.settings import PlatformSettings, load_settings


def _settings(data: Path, **changes: object) -> CoreSettings:
    return load_settings(environment="development", data_dir=data, **changes).core


def test_development_key_is_generated_once_long_and_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    key = context_key(_settings(tmp_path / "data"))
    assert len(key) >= 64  # 384 random bits, base64url
    path = tmp_path / "data" / "secrets" / "context.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert context_key(_settings(tmp_path / "data")) == key
    assert context_key(_settings(tmp_path / "elsewhere")) != key


def test_key_is_generated_beside_other_development_secrets(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "jwt-keys.json").write_text("{}")
    assert len(context_key(_settings(tmp_path))) >= 64


def test_configured_key_is_used_and_production_requires_one(tmp_path: Path) -> None:
    given = SecretStr("k" * 64)
    assert context_key(_settings(tmp_path, context_key=given)) == b"k" * 64
    with pytest.raises(SettingsError, match="VETRAI_CONTEXT_KEY"):
        context_key(load_settings(environment="production", data_dir=tmp_path).core)
    assert not (tmp_path / "secrets").exists()


@pytest.fixture
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
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
    assert context_left < guard <= context_left + 7


@pytest.mark.parametrize(
    "caller",
    [
        Caller(
            user_id=uuid4(),
            org_id=uuid4(),
            roles=frozenset({"owner"}),
            scopes=frozenset({"tickets:read", "billing:read"}),
            key_id=uuid4(),
            session_id=uuid4(),
            client_ip="203.0.113.7",
        ),
        Caller(),
    ],
    ids=["every-claim", "anonymous"],
)
def test_every_claim_survives_signing_and_reading(caller: Caller) -> None:
    key = b"k" * 32
    header = sign_caller(caller, audience="keys", key=key)
    assert read_caller(header, audience="keys", key=key)[0] == caller


def _signed(claims: dict[str, object], key: bytes) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"v1.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(("issued_in", "accepted"), [(2, True), (60, False)])
def test_context_issued_in_the_future_is_refused_beyond_the_clock_skew(
    issued_in: int, accepted: bool
) -> None:
    key = b"k" * 32
    header = sign_caller(Caller(user_id=uuid4()), audience="a", key=key, ttl=300)
    claims = orjson.loads(base64.urlsafe_b64decode(header.split(".")[1] + "=="))
    claims["iat"] = int(time.time()) + issued_in
    future = _signed(claims, key)
    if accepted:
        assert read_caller(future, audience="a", key=key)[1] == claims["jti"]
    else:
        with pytest.raises(InvalidContext, match="expired"):
            read_caller(future, audience="a", key=key)
