"""What the router caches of API keys, and for how long: a key until it changes or expires, never
an answer that may be stale (one it was waiting for when an announcement arrived, or one of a key
that expired meanwhile), and never more than a bounded number of entries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from router.identity import _Expiring
from subgraphs.keys.contract import CHANGED_CHANNEL
from subgraphs.tenancy.contract import MEMBERSHIP_CHANNEL, MembershipEvent
from tests.conftest import unique_slug
from tests.router.platform.builders import CURRENT, new_key
from tests.router.platform.conftest import RouterClient, router_client, router_config, served
from tests.router.platform.test_identity_key_cache import (
    MANY,
    _revoke_unannounced,
    _until,
)
from vetrai.settings import PlatformSettings

Hook = Callable[[bytes], Awaitable[None]]
BOUND = 10_000  # cached callers, at most


@pytest.fixture
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
    yield client
    await client.aclose()


class KeysInFront:
    """Forwards to the real keys subgraph; ``before_answering`` runs once the real answer is
    in and before the router gets it."""

    def __init__(self, keys_url: str) -> None:
        parts = urlsplit(keys_url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.client = httpx.AsyncClient(timeout=30)
        self.before_answering: Hook | None = None

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        answer = await self.client.post(
            f"{self.base}{request.url.path}", content=body, headers=headers
        )
        hook, self.before_answering = self.before_answering, None
        if hook is not None:
            await hook(body)
        return Response(answer.content, answer.status_code, media_type="application/json")


@asynccontextmanager
async def _behind(
    front: KeysInFront, settings: PlatformSettings, sdl: str, urls: dict[str, str]
) -> AsyncIterator[RouterClient]:
    """A router of its own whose calls to keys go through ``front``."""
    app = Starlette(routes=[Route("/{path:path}", front.handle, methods=["POST"])])
    async with served(app) as base:
        own_urls = {**urls, "keys": f"{base}/graphql"}
        async with router_client(settings, sdl, own_urls, router_config()) as own:
            yield own


async def test_a_key_revoked_while_it_was_being_verified_is_not_cached(
    router: RouterClient,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    owner_engine: AsyncEngine,
    redis: Redis,
) -> None:
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "pro")  # three keys: more than the free plan's
    raced, marker, sentinel = [await new_key(router, token, org, MANY) for _ in range(3)]
    front = KeysInFront(subgraph_urls["keys"])
    async with _behind(front, settings, supergraph_sdl, subgraph_urls) as own:

        async def status(secret: str) -> int:
            return (await own.post(CURRENT, x_api_key=secret)).status_code

        await until_listening(own, redis, owner_engine, sentinel, org)
        # Cached while listening, then revoked unannounced: refused only once announced.
        assert await status(marker["secret"]) == 200
        await _revoke_unannounced(owner_engine, marker["secret"])
        assert await status(marker["secret"]) == 200

        async def revoke_meanwhile(_: bytes) -> None:
            await _revoke_unannounced(owner_engine, raced["secret"])
            for key in (raced, marker):
                message = {"event": "revoked", "key_id": key["apiKey"]["id"], "org_id": org}
                await redis.publish(CHANGED_CHANNEL, orjson.dumps(message))

            # Announcements are handled in order: the marker's refusal shows both were.
            async def marker_refused() -> bool:
                return await status(marker["secret"]) == 401

            await _until(marker_refused, "the announcements never arrived")

        front.before_answering = revoke_meanwhile
        assert await status(raced["secret"]) == 200  # the answer it was waiting for
        assert await status(raced["secret"]) == 401
    await front.client.aclose()


async def until_listening(
    own: RouterClient, redis: Redis, owner_engine: AsyncEngine, sentinel: dict[str, Any], org: str
) -> None:
    """Wait until ``own`` handles announcements. Subscribing forgets what was cached before,
    and announcements are handled only after that: once the revoked ``sentinel`` key is refused
    (forgotten on subscribing, or on its announcement), what is cached from now on stays."""
    secret = sentinel["secret"]
    await own.post(CURRENT, x_api_key=secret)
    await _revoke_unannounced(owner_engine, secret)
    revoked = {"event": "revoked", "key_id": sentinel["apiKey"]["id"], "org_id": org}

    async def refused() -> bool:
        await redis.publish(CHANGED_CHANNEL, orjson.dumps(revoked))
        return (await own.post(CURRENT, x_api_key=secret)).status_code == 401

    await _until(refused, "the router never handled the key announcements")


def _expiring(seconds: float) -> str:
    return _expiring_at(datetime.now(UTC) + timedelta(seconds=seconds))


def _expiring_at(moment: datetime) -> str:
    return MANY.replace('name: "ci",', f'name: "brief", expiresAt: "{moment.isoformat()}",')


async def test_a_key_that_expires_is_cached_until_it_expires_and_no_longer(
    router: RouterClient,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    owner_engine: AsyncEngine,
    redis: Redis,
) -> None:
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "pro")  # three keys: more than the free plan's
    lasting = (await new_key(router, token, org, _expiring(86_400)))["secret"]
    sentinel = await new_key(router, token, org, MANY)
    async with router_client(settings, supergraph_sdl, subgraph_urls, router_config()) as own:
        await until_listening(own, redis, owner_engine, sentinel, org)
        brief = (await new_key(router, token, org, _expiring(3)))["secret"]
        for secret in (lasting, brief):
            assert (await own.post(CURRENT, x_api_key=secret)).status_code == 200
        # Cached: revoked unannounced, the key lasting a day is still accepted...
        await _revoke_unannounced(owner_engine, lasting)
        assert (await own.post(CURRENT, x_api_key=lasting)).status_code == 200

        # ...and the brief one, accepted before it expired, is refused once it has.
        async def brief_refused() -> bool:
            return (await own.post(CURRENT, x_api_key=brief)).status_code == 401

        await _until(brief_refused, "an expired key is still accepted from the cache")


async def test_a_key_that_expires_while_it_is_being_verified_is_not_cached(
    router: RouterClient,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    owner_engine: AsyncEngine,
    redis: Redis,
) -> None:
    token, org = await router.owner_of_new_organization()
    sentinel = await new_key(router, token, org, MANY)
    front = KeysInFront(subgraph_urls["keys"])
    async with _behind(front, settings, supergraph_sdl, subgraph_urls) as own:
        await until_listening(own, redis, owner_engine, sentinel, org)
        expires = datetime.now(UTC) + timedelta(seconds=2)
        brief = (await new_key(router, token, org, _expiring_at(expires)))["secret"]

        async def past_its_expiry(_: bytes) -> None:
            while datetime.now(UTC) <= expires:  # noqa: ASYNC110 - a wait for the clock
                await asyncio.sleep(0.05)

        front.before_answering = past_its_expiry
        # Valid when keys checked it, expired when the answer arrives: used, not kept.
        assert (await own.post(CURRENT, x_api_key=brief)).status_code == 200
        assert (await own.post(CURRENT, x_api_key=brief)).status_code == 401
    await front.client.aclose()


def test_the_cache_holds_at_most_its_bound_then_starts_afresh() -> None:
    cache = _Expiring()
    for n in range(BOUND):
        cache.put(n, n, 60, cache.generation)
    assert cache.get(0) == 0
    assert cache.get(BOUND - 1) == BOUND - 1
    cache.put("one more", 1, 60, cache.generation)
    assert cache.get(0) is None
    assert cache.get("one more") == 1


async def test_a_member_leaving_one_organization_is_forgotten_there_only(
    router: RouterClient,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    owner_engine: AsyncEngine,
    redis: Redis,
) -> None:
    token, left = await router.owner_of_new_organization()
    bearer = f"Bearer {token}"
    user = (await router.data("{ me { id } }", authorization=bearer))["me"]["id"]
    created = await router.data(
        """mutation($s: String!) { createOrganization(input: {name: "Kept", slug: $s})
        { organization { id } } }""",
        {"s": unique_slug()},
        authorization=bearer,
    )
    kept = created["createOrganization"]["organization"]["id"]
    keys = {}
    for org in (left, kept):
        made = await router.data(MANY % org, authorization=bearer, x_organization_id=org)
        assert made["createApiKey"]["errors"] == []
        keys[org] = made["createApiKey"]["secret"]
    sentinel = await new_key(router, token, left, MANY)
    async with router_client(settings, supergraph_sdl, subgraph_urls, router_config()) as own:
        await until_listening(own, redis, owner_engine, sentinel, left)

        async def key_status(org: str) -> int:
            return (await own.post(CURRENT, x_api_key=keys[org])).status_code

        async def member_status() -> int:
            return (
                await own.post(CURRENT, authorization=bearer, x_organization_id=kept)
            ).status_code

        assert [await key_status(left), await key_status(kept), await member_status()] == [200] * 3
        # Changed behind the router's back: what it still accepts comes from its cache.
        for secret in keys.values():
            await _revoke_unannounced(owner_engine, secret)
        async with owner_engine.begin() as connection:
            await connection.execute(
                text("delete from tenancy.memberships where org_id = :org and user_id = :user"),
                {"org": kept, "user": user},
            )
        removed = {"event": MembershipEvent.MEMBER_REMOVED, "org_id": left, "user_id": user}
        await redis.publish(MEMBERSHIP_CHANNEL, orjson.dumps(removed))

        async def left_key_refused() -> bool:
            return await key_status(left) == 401

        await _until(left_key_refused, "the member's key was kept after they left")
        # The same member's key and membership in the other organization stay cached.
        assert await key_status(kept) == 200
        assert await member_status() == 200
