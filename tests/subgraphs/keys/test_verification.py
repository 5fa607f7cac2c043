"""The router's internal verification path: who may call it, what a secret opens, and that
revocation and rotation reach the router."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller_context import HEADER, sign_caller
from core.logs import JsonFormatter
from subgraphs.keys.contract import CHANGED_CHANNEL
from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import (
    REVOKE,
    ROTATE,
    ROUTER,
    codes,
    create_key,
    issued,
    manager,
    verify,
)
from vetrai.settings import PlatformSettings


@pytest.fixture
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
    yield client
    await client.aclose()


async def test_a_valid_secret_tells_the_router_who_calls(keys: SignedClient) -> None:
    owner = manager()
    expires = datetime.now(UTC) + timedelta(days=30)
    key_id, secret = await issued(
        keys,
        owner,
        scopes=["tickets:write", "tickets:read"],
        expiresAt=expires.isoformat(),
        rateLimit={"limit": 3, "windowSeconds": 60},
    )
    response = await verify(keys, secret)
    assert response.status_code == 200
    body = response.json()
    assert datetime.fromisoformat(body.pop("expires_at")) == expires
    assert body == {
        "key_id": key_id,
        "org_id": str(owner.org_id),
        "scopes": ["tickets:read", "tickets:write"],
        "created_by": str(owner.user_id),
        "rate_limit": {"limit": 3, "window_seconds": 60},
    }


async def test_only_a_router_context_with_the_verify_scope_may_ask(keys: SignedClient) -> None:
    _, secret = await issued(keys, manager())
    assert (await verify(keys, secret, caller=None)).status_code == 401
    assert (await verify(keys, secret, caller=manager())).status_code == 401
    for_auth = sign_caller(ROUTER, audience="auth", key=keys.key)
    other_audience = await keys.client.post(
        "/internal/verify", json={"secret": secret}, headers={HEADER: for_auth}
    )
    assert other_audience.status_code == 401
    headers = keys.headers(ROUTER)
    first = await keys.client.post("/internal/verify", json={"secret": secret}, headers=headers)
    replayed = await keys.client.post("/internal/verify", json={"secret": secret}, headers=headers)
    assert (first.status_code, replayed.status_code) == (200, 401)
    assert replayed.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_unknown_malformed_and_revoked_secrets_are_not_found(keys: SignedClient) -> None:
    owner = manager()
    key_id, secret = await issued(keys, owner)
    for wrong in (
        secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        "vetrai_",
        "vetrai_" + "x" * 300,
        "",
    ):
        assert (await verify(keys, wrong)).status_code == 404, wrong[:20]
    oversized = orjson.dumps({"secret": "vetrai_" + "x" * 5000})
    for body in (b"not json", b"[]", b'{"secret": 1}', b"{}", oversized):
        response = await keys.client.post(
            "/internal/verify", content=body, headers=keys.headers(ROUTER)
        )
        assert response.status_code == 400, body
    assert (await keys.run(REVOKE, {"id": key_id}, owner))["revokeApiKey"]["errors"] == []
    assert (await verify(keys, secret)).status_code == 404


async def test_old_secret_works_until_the_grace_period_ends(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    key_id, old = await issued(keys, owner)
    rotated = (await keys.run(ROTATE, {"id": key_id, "grace": 600}, owner))["rotateApiKey"]
    new = rotated["secret"]
    assert (await verify(keys, new)).json()["expires_at"] is None
    during = await verify(keys, old)
    assert during.status_code == 200
    assert during.json()["key_id"] == key_id
    grace_end = datetime.fromisoformat(during.json()["expires_at"])
    assert timedelta(seconds=590) < grace_end - datetime.now(UTC) <= timedelta(seconds=600)
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "update keys.api_keys set previous_valid_until = now() - interval '1 second'"
                " where id = :id"
            ),
            {"id": key_id},
        )
    assert (await verify(keys, old)).status_code == 404
    assert (await verify(keys, new)).status_code == 200


async def test_rotation_without_grace_ends_the_old_secret_at_once(keys: SignedClient) -> None:
    owner = manager()
    key_id, old = await issued(keys, owner)
    rotated = (await keys.run(ROTATE, {"id": key_id, "grace": 0}, owner))["rotateApiKey"]
    assert (await verify(keys, old)).status_code == 404
    assert (await verify(keys, rotated["secret"])).status_code == 200


async def test_expired_key_is_not_found_and_cannot_be_rotated(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    key_id, secret = await issued(keys, owner, expiresAt=soon)
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "update keys.api_keys set expires_at = now() - interval '1 second' where id = :id"
            ),
            {"id": key_id},
        )
    assert (await verify(keys, secret)).status_code == 404
    rotated = (await keys.run(ROTATE, {"id": key_id, "grace": 0}, owner))["rotateApiKey"]
    assert codes(rotated) == [("API_KEY_EXPIRED", None)]
    assert (await create_key(keys, owner))["errors"] == []


async def test_revocation_and_rotation_are_announced_to_routers(
    keys: SignedClient, redis: Redis
) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(CHANGED_CHANNEL)
        await pubsub.get_message(timeout=1)  # the subscription confirmation
        await keys.run(ROTATE, {"id": key_id, "grace": 0}, owner)
        await keys.run(REVOKE, {"id": key_id}, owner)
        events = [await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)]
        events.append(await pubsub.get_message(ignore_subscribe_messages=True, timeout=1))
    received = [orjson.loads(e["data"]) for e in events if e]
    assert received == [
        {"event": "rotated", "key_id": key_id, "org_id": str(owner.org_id)},
        {"event": "revoked", "key_id": key_id, "org_id": str(owner.org_id)},
    ]


async def test_logs_never_hold_a_secret(keys: SignedClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        created = await create_key(keys, manager())
        secret = created["secret"]
        statuses = [(await verify(keys, s)).status_code for s in (secret, secret + "x")]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert statuses == [200, 404]
    lines: list[dict[str, Any]] = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["status"] for line in lines if line.get("path") == "/internal/verify"] == [
        200,
        404,
    ]
    assert secret not in stream.getvalue()
    assert secret[len("vetrai_") :] not in stream.getvalue()
