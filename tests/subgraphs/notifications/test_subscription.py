"""``notificationAdded`` over WebSocket (graphql-transport-ws) against the subgraph served by
uvicorn: events travel through Redis, so a notification stored by another replica or by the
worker reaches the subscriber."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from core.caller import Caller
from core.caller_context import HEADER, sign_caller
from subgraphs.notifications.contract import NotificationRequest, Recipient, enqueue_notification
from subgraphs.notifications.live import topic
from subgraphs.notifications.service import NotificationService
from tests.conftest import SignedClient, served
from tests.subgraphs.notifications.helpers import member, organization, send, send_input
from vetrai.platform import domain
from vetrai.settings import PlatformSettings

PROTOCOLS = [Subprotocol("graphql-transport-ws")]
SUBSCRIBE = "subscription { notificationAdded { id title body category createdAt } }"


@pytest.fixture(scope="module")
async def endpoint(settings: PlatformSettings) -> AsyncIterator[str]:
    async with served(domain("notifications").create_app(settings)) as port:
        yield f"ws://127.0.0.1:{port}/graphql"


@pytest.fixture(scope="module")
async def redis(settings: PlatformSettings) -> AsyncIterator[Redis]:
    assert settings.core.redis_url
    client = Redis.from_url(settings.core.redis_url)
    yield client
    await client.aclose()


def signed(caller: Caller, key: bytes) -> str:
    return sign_caller(caller, audience="notifications", key=key)


async def receive(ws: ClientConnection, within: float = 1.0) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def subscribed(
    endpoint: str, redis: Redis, user: Caller, key: bytes, *, in_payload: bool = False
) -> AsyncIterator[ClientConnection]:
    header = signed(user, key)
    headers = {} if in_payload else {HEADER: header}
    async with connect(endpoint, subprotocols=PROTOCOLS, additional_headers=headers) as ws:
        payload = {HEADER: header} if in_payload else {}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send(
            orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}).decode()
        )
        await listening(redis, user.user_id, 1)
        yield ws


async def listening(redis: Redis, user_id: UUID | None, count: int) -> None:
    """Wait until ``count`` subscribers listen for the user (no event may be missed)."""
    assert user_id is not None
    for _ in range(200):
        [(_, subscribers)] = await redis.pubsub_numsub(topic(user_id))
        if subscribers == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} subscribers")


async def test_subscriber_receives_a_notification_sent_through_another_replica(
    endpoint: str,
    redis: Redis,
    notifications: SignedClient,
    notification_service: NotificationService,
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    async for ws in subscribed(endpoint, redis, ada, notifications.key):
        sent = await send(notifications, admin, send_input(admin, [ada]))
        event = await receive(ws)
        assert event["type"] == "next"
        added = event["payload"]["data"]["notificationAdded"]
        assert added["id"] == sent["notifications"][0]["id"]
        assert (added["title"], added["body"], added["category"]) == (
            "Hello",
            "World",
            "announcement",
        )
        assert added["createdAt"]


async def test_context_in_connection_init_payload_and_teardown(
    endpoint: str,
    redis: Redis,
    notifications: SignedClient,
    notification_service: NotificationService,
) -> None:
    ada, bob = member(), member()
    admin = await organization(notification_service, ada, bob)
    async for ws in subscribed(endpoint, redis, ada, notifications.key, in_payload=True):
        await send(notifications, admin, send_input(admin, [bob]))
        await send(notifications, admin, send_input(admin, [ada], title="Mine"))
        event = await receive(ws)
        assert event["payload"]["data"]["notificationAdded"]["title"] == "Mine"
        await ws.send(orjson.dumps({"id": "1", "type": "complete"}).decode())
        await listening(redis, ada.user_id, 0)


async def test_closing_the_connection_ends_the_redis_subscription(
    endpoint: str, redis: Redis, notifications: SignedClient
) -> None:
    ada = member()
    async for _ in subscribed(endpoint, redis, ada, notifications.key):
        pass
    await listening(redis, ada.user_id, 0)


async def test_notification_made_by_the_worker_reaches_the_subscriber(
    endpoint: str,
    redis: Redis,
    notifications: SignedClient,
    settings: PlatformSettings,
    worker: None,
) -> None:
    ada = member()
    async for ws in subscribed(endpoint, redis, ada, notifications.key):
        request = NotificationRequest(
            template_key="job_succeeded",
            category="job",
            recipients=[Recipient(user_id=ada.user_id)],
            idempotency_key=secrets.token_hex(8),
            data={"job": "Nightly report", "link": "https://example.com/jobs/1"},
            channels=["in_app"],
        )
        await enqueue_notification(redis, settings.core.queue_name, request)
        event = await receive(ws, within=5)
        added = event["payload"]["data"]["notificationAdded"]
        assert (added["title"], added["category"]) == ("Nightly report finished", "job")


async def handshake(endpoint: str, header: str) -> str | int | None:
    """The answer to ``connection_init`` carrying ``header``: a message type or a close code."""
    async with connect(endpoint, subprotocols=PROTOCOLS) as ws:
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {HEADER: header}}).decode()
        )
        try:
            return str((await receive(ws))["type"])
        except ConnectionClosed:
            return ws.close_code


async def test_forged_or_replayed_context_closes_the_connection(
    endpoint: str, notifications: SignedClient
) -> None:
    header = signed(member(), notifications.key)
    assert await handshake(endpoint, header) == "connection_ack"
    assert await handshake(endpoint, header) == 4403
    assert await handshake(endpoint, signed(member(), b"not-the-key" * 4)) == 4403


async def test_anonymous_subscriber_gets_an_error(endpoint: str) -> None:
    async with connect(endpoint, subprotocols=PROTOCOLS) as ws:
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send(
            orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}).decode()
        )
        event = await receive(ws)
        assert event["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await receive(ws))["type"] == "complete"


async def test_ping_is_answered_with_pong(endpoint: str) -> None:
    async with connect(endpoint, subprotocols=PROTOCOLS) as ws:
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send(orjson.dumps({"type": "ping"}).decode())
        assert (await receive(ws))["type"] == "pong"
