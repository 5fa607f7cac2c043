"""When the router loses the announcement channel, it forgets every cached membership, key and
plan: what was announced meanwhile is unknown. An announcement it hears forgets what it names."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from uuid import uuid4

import orjson
import pytest
from redis.asyncio import Redis

from core.caller import Caller
from router.identity import Authenticator, Endpoints, Identity, Plan
from subgraphs.billing.contract import PLAN_CHANGED_CHANNEL
from vetrai.settings import PlatformSettings


@pytest.fixture
async def authenticator(settings: PlatformSettings) -> AsyncIterator[Authenticator]:
    assert settings.core.redis_url
    name = f"router-test-{secrets.token_hex(4)}"
    redis = Redis.from_url(settings.core.redis_url, client_name=name)
    endpoints = Endpoints(jwks="http://127.0.0.1:9/jwks", keys="http://127.0.0.1:9", tenancy="")
    authenticator = Authenticator(endpoints, issuer="i", audience="a", key=b"k" * 32, redis=redis)
    yield authenticator
    await authenticator.aclose()
    await redis.aclose()


async def subscribed_client(redis: Redis, name: str) -> int:
    """The id of the connection named ``name`` once it listens to the announcement channels."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        for client in await redis.client_list(_type="pubsub"):
            if client["name"] == name and int(client["sub"]) == 3:
                return int(client["id"])
        assert asyncio.get_running_loop().time() < deadline, "never subscribed"
        await asyncio.sleep(0.02)


async def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


async def test_lost_channel_clears_cached_memberships_keys_and_plans(
    authenticator: Authenticator,
) -> None:
    redis = authenticator.redis
    name = str((await redis.client_info())["name"])
    authenticator._listen()
    client_id = await subscribed_client(redis, name)
    memberships, keys, plans = authenticator._memberships, authenticator._keys, authenticator._plans
    await eventually(lambda: memberships.generation > 0, "the listener's first clear")
    user, org = uuid4(), uuid4()
    memberships.put(
        (user, None), {"id": str(org), "viewerRole": "ADMIN"}, 60, memberships.generation
    )
    keys.put("digest", Identity(Caller(key_id=uuid4(), org_id=org)), 60, keys.generation)
    plans.put(org, Plan("pro", {"api_keys": 25}), 60, plans.generation)
    assert plans.get(org) is not None

    await redis.client_kill_filter(_id=str(client_id))

    await eventually(
        lambda: (
            memberships.get((user, None)) is None
            and keys.get("digest") is None
            and plans.get(org) is None
        ),
        "the caches cleared",
    )


async def test_a_plan_announcement_forgets_that_organizations_plan_only(
    authenticator: Authenticator,
) -> None:
    redis = authenticator.redis
    authenticator._listen()
    await subscribed_client(redis, str((await redis.client_info())["name"]))
    memberships, keys, plans = authenticator._memberships, authenticator._keys, authenticator._plans
    await eventually(lambda: memberships.generation > 0, "the listener's first clear")
    user, changed, other = uuid4(), uuid4(), uuid4()
    memberships.put(
        (user, None), {"id": str(changed), "viewerRole": "ADMIN"}, 60, memberships.generation
    )
    key = Identity(Caller(key_id=uuid4(), org_id=changed), key_creator=user)
    keys.put("digest", key, 60, keys.generation)
    for org in (changed, other):
        plans.put(org, Plan("pro", {"api_keys": 25}), 60, plans.generation)

    message = orjson.dumps({"org_id": str(changed), "plan": "team"})
    await redis.publish(PLAN_CHANGED_CHANNEL, message)

    await eventually(lambda: plans.get(changed) is None, "the changed plan forgotten")
    # Nothing else changed: the other organization's plan, and the member and key of this one.
    assert plans.get(other) == Plan("pro", {"api_keys": 25})
    assert memberships.get((user, None)) == {"id": str(changed), "viewerRole": "ADMIN"}
    assert keys.get("digest") == key
