"""When the router loses the announcement channel, it forgets every cached membership, key and
plan: what was announced meanwhile is unknown, and waits before listening again. An announcement
it hears forgets what it names."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import orjson
import pytest
from redis.asyncio import Redis

from core.caller import Caller
from router import identity as identity_module
from router.identity import Authenticator, Endpoints, Identity, Plan
from subgraphs.billing.contract import PLAN_CHANGED_CHANNEL
from subgraphs.keys.contract import CHANGED_CHANNEL
from subgraphs.tenancy.contract import MEMBERSHIP_CHANNEL, MembershipEvent
from tests.conftest import eventually
from vetrai.settings import PlatformSettings


@pytest.fixture
async def authenticator(settings: PlatformSettings) -> AsyncIterator[Authenticator]:
    assert settings.core.redis_url
    name = f"router-test-{secrets.token_hex(4)}"
    redis = Redis.from_url(settings.core.redis_url, client_name=name)
    authenticator = _authenticator(redis)
    yield authenticator
    await authenticator.aclose()
    await redis.aclose()


def _authenticator(redis: Redis) -> Authenticator:
    endpoints = Endpoints(jwks="http://127.0.0.1:9/jwks", keys="http://127.0.0.1:9", tenancy="")
    return Authenticator(endpoints, issuer="i", audience="a", key=b"k" * 32, redis=redis)


async def subscribed_client(redis: Redis, name: str) -> int:
    """The id of the connection named ``name`` once it listens to the announcement channels."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        for client in await redis.client_list(_type="pubsub"):
            if client["name"] == name and int(client["sub"]) == 3:
                return int(client["id"])
        assert asyncio.get_running_loop().time() < deadline, "never subscribed"
        await asyncio.sleep(0.02)


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


async def test_each_announcement_forgets_what_it_names_and_nothing_else(
    authenticator: Authenticator,
) -> None:
    redis = authenticator.redis
    authenticator._listen()
    await subscribed_client(redis, str((await redis.client_info())["name"]))
    listener = authenticator._listener
    memberships, keys, plans = authenticator._memberships, authenticator._keys, authenticator._plans
    await eventually(lambda: memberships.generation > 0, "the listener's first clear")
    ada, bob, org, other = uuid4(), uuid4(), uuid4(), uuid4()
    revoked = uuid4()
    cached_keys = {
        "ada's": Identity(Caller(key_id=uuid4(), org_id=org), key_creator=ada),
        "bob's revoked": Identity(Caller(key_id=revoked, org_id=org), key_creator=bob),
        "bob's": Identity(Caller(key_id=uuid4(), org_id=org), key_creator=bob),
        "ada's elsewhere": Identity(Caller(key_id=uuid4(), org_id=other), key_creator=ada),
    }
    for digest, identity in cached_keys.items():
        keys.put(digest, identity, 60, keys.generation)
    cached_members = {
        (ada, None): {"id": str(org), "viewerRole": "ADMIN"},
        (ada, str(other)): {"id": str(other), "viewerRole": "OWNER"},
        (bob, None): {"id": str(org), "viewerRole": "MEMBER"},
    }
    for key, found in cached_members.items():
        memberships.put(key, found, 60, memberships.generation)
    for each in (org, other):
        plans.put(each, Plan("pro", {"api_keys": 25}), 60, plans.generation)

    async def announce(channel: str, gone_keys: set[str], gone_members: set[Any], **m: Any) -> None:
        await redis.publish(channel, orjson.dumps(m))
        await eventually(
            lambda: (
                all(keys.get(d) is None for d in gone_keys)
                and all(memberships.get(k) is None for k in gone_members)
            ),
            f"{m} forgot what it names",
        )
        assert {d for d in cached_keys if keys.get(d) is None} == gone_keys
        assert {k for k in cached_members if memberships.get(k) is None} == gone_members
        for digest in gone_keys:
            del cached_keys[digest]
        for key in gone_members:
            del cached_members[key]

    revoke = {"event": "revoked", "key_id": str(revoked), "org_id": str(org)}
    await announce(CHANGED_CHANNEL, {"bob's revoked"}, set(), **revoke)
    left = {"event": MembershipEvent.MEMBER_REMOVED, "org_id": str(org), "user_id": str(ada)}
    await announce(MEMBERSHIP_CHANNEL, {"ada's"}, {(ada, None)}, **left)
    assert (plans.get(org), plans.get(other)) == (Plan("pro", {"api_keys": 25}),) * 2
    deleted = {"event": MembershipEvent.ORGANIZATION_DELETED, "org_id": str(org), "user_id": None}
    await announce(MEMBERSHIP_CHANNEL, {"bob's"}, {(bob, None)}, **deleted)
    assert (plans.get(org), plans.get(other)) == (None, Plan("pro", {"api_keys": 25}))
    assert set(cached_keys) == {"ada's elsewhere"}
    assert set(cached_members) == {(ada, str(other))}
    # Every announcement was handled by the one listener: none made it fail and start afresh.
    assert authenticator._listener is listener
    assert listener is not None
    assert not listener.done()


async def test_without_redis_the_listener_waits_before_listening_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    release = asyncio.Event()

    async def held(seconds: float) -> None:
        waits.append(seconds)
        await release.wait()

    monkeypatch.setattr(identity_module, "_sleep", held)
    redis = Redis.from_url("redis://127.0.0.1:9/0")  # nothing listens there: every attempt fails
    authenticator = _authenticator(redis)
    try:
        authenticator._listen()
        await eventually(lambda: bool(waits), "the listener waiting", seconds=10)
        assert waits[0] > 0
        # One attempt before the wait: each failed one forgets everything once.
        assert authenticator._keys.generation == 1
    finally:
        release.set()
        await authenticator.aclose()
        await redis.aclose()
