"""Cached API keys are forgotten whenever the router may have missed an announcement: when it
loses its Redis subscription, and again once it has subscribed anew."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.router.platform.builders import CREATE, CURRENT, new_key
from tests.router.platform.conftest import RouterClient, router_client, router_config
from vetrai.settings import PlatformSettings

MANY = CREATE.replace("limit: 3", "limit: 100")


@pytest.fixture
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_user(redis: Redis) -> AsyncIterator[str]:
    """A Redis user of the router's own, so that only its subscriptions can be refused."""
    name = f"router-{secrets.token_hex(4)}"
    await _allow_subscribing(redis, name, True)
    yield name
    await redis.acl_deluser(name)


async def _allow_subscribing(redis: Redis, user: str, allowed: bool) -> None:
    await redis.acl_setuser(
        user,
        enabled=True,
        nopass=True,
        keys=["*"],
        channels=["*"],
        commands=["+@all", "+subscribe" if allowed else "-subscribe"],
    )


def _as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc}"))


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def _subscribers(redis: Redis, user: str) -> set[str]:
    return {c["id"] for c in await redis.client_list(_type="pubsub") if c["user"] == user}


async def _revoke_unannounced(owner_engine: AsyncEngine, secret: str) -> None:
    """Revoke behind the router's back: no announcement reaches it."""
    async with owner_engine.begin() as connection:
        await connection.execute(
            text("update keys.api_keys set revoked_at = now() where prefix = :prefix"),
            {"prefix": secret[:15]},
        )


async def test_keys_are_forgotten_on_losing_redis_and_on_subscribing_again(
    router: RouterClient,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    owner_engine: AsyncEngine,
    redis: Redis,
    redis_user: str,
) -> None:
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "pro")  # three keys: more than the free plan's
    first, second, third = [(await new_key(router, token, org, MANY))["secret"] for _ in range(3)]
    assert settings.core.redis_url
    own_redis = settings.replace(redis_url=_as_user(settings.core.redis_url, redis_user))
    config = router_config()
    async with router_client(own_redis, supergraph_sdl, subgraph_urls, config) as own:

        async def status(secret: str) -> int:
            return (await own.post(CURRENT, x_api_key=secret)).status_code

        assert await status(first) == 200
        assert await status(third) == 200
        listener: set[str] = set()

        async def subscribed() -> bool:
            listener.update(await _subscribers(redis, redis_user))
            return bool(listener)

        await _until(subscribed, "the router never subscribed to the key announcements")
        # Subscribing forgets what was cached before: cache both again while listening.
        assert [await status(first), await status(third)] == [200, 200]
        await _revoke_unannounced(owner_engine, first)
        await _revoke_unannounced(owner_engine, third)
        # Both still cached: nothing was announced.
        assert [await status(first), await status(third)] == [200, 200]

        # Redis is lost and the router cannot subscribe again: it forgets every cached key.
        await _allow_subscribing(redis, redis_user, False)
        for client_id in listener:
            await redis.client_kill_filter(_id=client_id)

        async def first_refused() -> bool:
            return await status(first) == 401

        await _until(first_refused, "a key revoked while Redis was lost is still accepted")

        # A key cached while not listening, revoked unannounced, is forgotten on subscribing.
        assert await status(second) == 200
        await _revoke_unannounced(owner_engine, second)
        await _allow_subscribing(redis, redis_user, True)

        async def second_refused() -> bool:
            return await status(second) == 401

        await _until(second_refused, "a key cached while not listening outlived the resubscription")


async def test_a_key_whose_organization_is_gone_is_refused(
    router: RouterClient, owner_engine: AsyncEngine
) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org, MANY))["secret"]
    async with owner_engine.begin() as connection:
        # Gone from tenancy while keys still knows the key (no announcement either).
        for table in ("active_organizations", "memberships", "invitations", "organizations"):
            column = "id" if table == "organizations" else "org_id"
            await connection.execute(
                text(f"delete from tenancy.{table} where {column} = :org"),  # noqa: S608
                {"org": org},
            )
    response = await router.post(CURRENT, x_api_key=secret)
    assert response.status_code == 401
    assert "organization is gone" in response.json()["errors"][0]["message"]
