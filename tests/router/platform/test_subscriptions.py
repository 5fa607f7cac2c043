"""Subscriptions through the router: graphql-transport-ws and multipart HTTP to the client,
WebSocket with the signed caller context to the owning subgraph."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from router.config import SubscriptionLimits
from subgraphs.notifications import live
from subgraphs.notifications.models import Notification
from tests.router.platform.conftest import RouterClient, router_client, router_config
from vetrai.settings import PlatformSettings

# Waits for a condition, generous for a loaded host.
DEADLINE = 60
AS_WRITTEN = "subscription { notificationAdded { id title body category createdAt } }"


@pytest.fixture
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
    yield client
    await client.aclose()


async def _notify(redis: Redis, user_id: str, title: str) -> Notification:
    """Store-and-publish as the worker does (the publishing half is what subscribers see)."""
    notification = Notification(
        id=uuid4(),
        user_id=UUID(user_id),
        category="announcement",
        dedupe_key=f"test:{uuid4()}",
        title=title,
        body="Hello",
        data={},
        created_at=datetime.now(UTC),
    )
    await live.publish(redis, notification)
    return notification


@asynccontextmanager
async def _client(router: RouterClient, payload: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        yield ws


async def _next(ws: ClientConnection, within: float = 10) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), within))
        if message["type"] != "ping":
            return message


async def _until_subscribers(redis: Redis, user: str, count: int) -> None:
    """Until the subgraph listens for the user's events (``count`` 1) or no longer does (0): it
    subscribes and leaves asynchronously, after the router has passed the operation on."""
    async with asyncio.timeout(DEADLINE):
        while True:
            [(_, subscribers)] = await redis.pubsub_numsub(live.topic(UUID(user)))
            if subscribers == count:
                return
            await asyncio.sleep(0.05)


async def _delivered(redis: Redis, user: str, ws: ClientConnection) -> dict[str, Any]:
    """An event published once the subgraph listens, as the client receives it."""
    await _until_subscribers(redis, user, 1)
    sent = await _notify(redis, user, "Live")
    message = await _next(ws, DEADLINE)
    assert message["payload"]["data"]["notificationAdded"]["title"] == sent.title
    return message


async def test_subscription_as_written_over_websocket(router: RouterClient, redis: Redis) -> None:
    user, token = await router.sign_up()
    async with _client(router, {"Authorization": f"Bearer {token}"}) as ws:
        assert await _next(ws) == {"type": "connection_ack"}
        await ws.send(
            orjson.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": AS_WRITTEN}}
            ).decode()
        )
        message = await _delivered(redis, user, ws)
        assert message["type"] == "next"
        assert message["id"] == "1"
        event = message["payload"]["data"]["notificationAdded"]
        assert set(event) == {"id", "title", "body", "category", "createdAt"}
        assert event["body"] == "Hello"
        await ws.send(orjson.dumps({"type": "ping"}).decode())
        assert await _next(ws) == {"type": "pong"}
        await ws.send(orjson.dumps({"id": "1", "type": "complete"}).decode())
        await _until_subscribers(redis, user, 0)
        await _notify(redis, user, "after complete")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)


async def test_each_event_runs_the_rest_of_the_plan(router: RouterClient, redis: Redis) -> None:
    user, token = await router.sign_up()
    query = "subscription { notificationAdded { title recipient { id email } } }"
    async with _client(router, {"authorization": f"Bearer {token}"}) as ws:
        await _next(ws)
        await ws.send(
            orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}).decode()
        )
        message = await _delivered(redis, user, ws)
    recipient = message["payload"]["data"]["notificationAdded"]["recipient"]
    assert recipient["id"] == user
    assert recipient["email"].endswith("@example.com")  # from auth, fetched for this event


async def test_queries_run_over_the_websocket_too(router: RouterClient) -> None:
    user, token = await router.sign_up()
    async with _client(router, {"authorization": f"Bearer {token}"}) as ws:
        await _next(ws)
        await ws.send(
            orjson.dumps(
                {"id": "q", "type": "subscribe", "payload": {"query": "{ me { id } }"}}
            ).decode()
        )
        assert await _next(ws) == {
            "type": "next",
            "id": "q",
            "payload": {"data": {"me": {"id": user}}},
        }
        assert await _next(ws) == {"type": "complete", "id": "q"}


async def test_bad_credentials_close_the_connection(router: RouterClient) -> None:
    async with _client(router, {"authorization": "Bearer nonsense"}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_anonymous_subscriber_is_refused_by_the_router(router: RouterClient) -> None:
    async with _client(router, {}) as ws:
        assert await _next(ws) == {"type": "connection_ack"}
        await ws.send(
            orjson.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": AS_WRITTEN}}
            ).decode()
        )
        message = await _next(ws)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"


async def test_subscription_over_multipart_http(router: RouterClient, redis: Redis) -> None:
    user, token = await router.sign_up()
    headers = {
        "authorization": f"Bearer {token}",
        "accept": 'multipart/mixed;subscriptionSpec="1.0", application/json',
    }
    body = {"query": AS_WRITTEN}
    async with router.client.stream("POST", "/graphql", json=body, headers=headers) as response:
        assert response.headers["content-type"].startswith("multipart/mixed")
        assert "ratelimit-remaining" in response.headers

        async def first_event() -> dict[str, Any]:
            """The payload of the first part that carries one (heartbeats are empty parts)."""
            received = b""
            async for chunk in response.aiter_bytes():
                received += chunk
                for part in received.split(b"\r\n--graphql")[1:]:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        parsed = orjson.loads(part.partition(b"\r\n\r\n")[2])
                        if parsed.get("payload"):
                            payload: dict[str, Any] = parsed["payload"]
                            return payload
            raise AssertionError("the stream ended without an event")

        reader = asyncio.create_task(first_event())
        await _until_subscribers(redis, user, 1)
        await _notify(redis, user, "Multipart")
        payload = await asyncio.wait_for(reader, DEADLINE)
    assert payload["data"]["notificationAdded"]["body"] == "Hello"


async def test_limits_on_subscriptions_and_connections(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    config = router_config().model_copy(
        update={"subscriptions": SubscriptionLimits(per_connection=1, connections_per_caller=1)}
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        _, token = await router.sign_up()
        bearer = {"authorization": f"Bearer {token}"}
        async with _client(router, bearer) as ws:
            await _next(ws)
            for ident in ("1", "2"):
                subscribe = {"id": ident, "type": "subscribe", "payload": {"query": AS_WRITTEN}}
                await ws.send(orjson.dumps(subscribe).decode())
            refused = await _next(ws)
            assert refused["id"] == "2"
            assert refused["payload"][0]["extensions"]["code"] == "LIMIT"
            async with _client(router, bearer) as second:
                with pytest.raises(ConnectionClosed) as closed:
                    await second.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4429
