"""Builders of keys test data: organization managers, the keys they issue, the router's
verification of their secrets and its counting of their use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from redis.asyncio import Redis

from core.caller import Caller
from core.scopes import INTERNAL_VERIFY
from router.ratelimit import KeyUse, RateLimiter
from tests.conftest import SignedClient

KEY_FIELDS = "id name prefix scopes createdAt expiresAt lastUsedAt revokedAt createdBy { id }"

ROTATE = """mutation($id: ID!, $grace: Int!) { rotateApiKey(id: $id, gracePeriodSeconds: $grace) {
  apiKey { id prefix } secret errors { code field message } } }"""


REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) {
  apiKey { id revokedAt } errors { code field message } } }"""


ROUTER = Caller(scopes=frozenset({INTERNAL_VERIFY}))


def manager(org_id: UUID | None = None, role: str = "owner") -> Caller:
    return Caller(user_id=uuid4(), org_id=org_id or uuid4(), roles=frozenset({role}))


async def create_key(keys: SignedClient, caller: Caller, **input: Any) -> dict[str, Any]:
    values = {"organizationId": str(caller.org_id), "name": "ci", "scopes": ["tickets:read"]}
    data = await keys.run(CREATE, {"input": {**values, **input}}, caller)
    payload: dict[str, Any] = data["createApiKey"]
    return payload


async def issued(keys: SignedClient, caller: Caller, **input: Any) -> tuple[str, str]:
    """A new key's id and secret."""
    created = await create_key(keys, caller, **input)
    assert created["errors"] == [], created["errors"]
    return created["apiKey"]["id"], created["secret"]


async def verify(
    keys: SignedClient, secret: object, caller: Caller | None = ROUTER
) -> httpx.Response:
    """What the verification route answers for ``secret``, asked as the router (by default)."""
    return await keys.client.post(
        "/internal/verify", json={"secret": secret}, headers=keys.headers(caller)
    )


async def count_use(
    redis: Redis, *, key_id: UUID, org_id: UUID, rejected: bool, at: datetime | None = None
) -> None:
    """One request made with a key, counted as the router counts it (``rejected``: refused)."""
    use, limiter = KeyUse(org_id, key_id, denied=rejected), RateLimiter(redis, "keys-tests")
    try:
        await limiter.spend([], now=at or datetime.now(UTC), key=use)
    finally:
        await limiter.aclose()


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


CREATE = f"""mutation($input: CreateApiKeyInput!) {{ createApiKey(input: $input) {{
  apiKey {{ {KEY_FIELDS} rateLimit {{ limit windowSeconds }} }} secret
  errors {{ code field message }} }} }}"""
