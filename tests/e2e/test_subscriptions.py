"""Subscriptions end to end through ``vetrai up``: a notification sent with a mutation through
the router is stored by the worker and reaches a subscriber of the router within a second, over
WebSocket and over multipart HTTP, with fields of another subgraph; closing the client ends the
subscription at the subgraph too."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from tests.e2e.conftest import ROUTER, Platform, run_query

SUBSCRIBE = "subscription { notificationAdded { id title body category createdAt } }"
WITH_RECIPIENT = "subscription { notificationAdded { title recipient { email } } }"


def _owner() -> tuple[str, str, str, str]:
    """A new user owning a new organization: id, email, token, organization id."""
    email = f"sub-{secrets.token_hex(4)}@example.com"
    signed_up = run_query(
        ROUTER,
        f"""mutation {{ signUp(input: {{email: "{email}", password: "correct horse battery",
        name: "Sub"}}) {{ user {{ id }} tokens {{ accessToken }} }} }}""",
    )["signUp"]
    token = signed_up["tokens"]["accessToken"]
    org = run_query(
        ROUTER,
        f"""mutation {{ createOrganization(input: {{name: "Subs",
        slug: "subs-{secrets.token_hex(3)}"}}) {{ organization {{ id }} }} }}""",
        {"authorization": f"Bearer {token}"},
    )["createOrganization"]["organization"]["id"]
    return signed_up["user"]["id"], email, token, org


def _send(token: str, org: str, user: str, title: str) -> dict[str, Any]:
    mutation = f"""mutation {{ sendNotification(input: {{organizationId: "{org}",
      userIds: ["{user}"], category: "announcement", title: "{title}", body: "World",
      channels: [IN_APP, EMAIL], idempotencyKey: "{title}"}}) {{
      notifications {{ id }} errors {{ code field message }} }} }}"""
    deadline = time.monotonic() + DEADLINE
    while True:  # until the worker has recorded tenancy's member list
        sent: dict[str, Any] = run_query(ROUTER, mutation, {"authorization": f"Bearer {token}"})[
            "sendNotification"
        ]
        if not sent["errors"]:
            return sent
        assert time.monotonic() < deadline, sent
        time.sleep(0.1)


DEADLINE = 30.0  # seconds: generous for a loaded machine; the condition ends the wait


async def _until(value: Callable[[], Awaitable[object]], expected: object) -> None:
    """Poll ``value`` until it is ``expected``; fail after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while (current := await value()) != expected:
        assert time.monotonic() < deadline, f"still {current!r}, not {expected!r}"
        await asyncio.sleep(0.05)


async def _subscribers(platform: Platform, user: str) -> int:
    redis = Redis.from_url(platform.redis_url())
    try:
        counts = await redis.pubsub_numsub(f"vetrai:notifications:{user}")
        return int(counts[0][1])
    finally:
        await redis.aclose()


async def test_websocket_subscribers_get_the_notification(
    platform: Platform,
) -> None:
    user, email, token, org = _owner()
    url = ROUTER.replace("http", "ws", 1)
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(orjson.dumps(init).decode())
        assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
        for ident, query in (("plain", SUBSCRIBE), ("joined", WITH_RECIPIENT)):
            message = {"id": ident, "type": "subscribe", "payload": {"query": query}}
            await ws.send(orjson.dumps(message).decode())
        await _until(lambda: _subscribers(platform, user), 2)  # both reach the subgraph
        sent = await asyncio.to_thread(_send, token, org, user, "Hello")
        events: dict[str, Any] = {}
        while len(events) < 2:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), DEADLINE))
            if message["type"] == "next":
                events[message["id"]] = message["payload"]["data"]["notificationAdded"]
        assert events["plain"]["id"] == sent["notifications"][0]["id"]
        assert events["plain"]["title"] == "Hello"
        assert events["joined"] == {"title": "Hello", "recipient": {"email": email}}
    await _until(lambda: _subscribers(platform, user), 0)  # the router closed them there


async def test_multipart_subscriber_gets_the_notification(platform: Platform) -> None:
    user, _, token, org = _owner()
    headers = {
        "authorization": f"Bearer {token}",
        "accept": 'multipart/mixed;subscriptionSpec="1.0",application/json',
    }
    received = bytearray()
    async with httpx.AsyncClient(timeout=30) as client:
        stream = client.stream("POST", ROUTER, json={"query": SUBSCRIBE}, headers=headers)
        async with stream as response:

            async def read() -> None:
                async for chunk in response.aiter_bytes():
                    received.extend(chunk)

            reader = asyncio.create_task(read())
            await _until(lambda: _subscribers(platform, user), 1)
            await asyncio.to_thread(_send, token, org, user, "Parts")

            async def parts() -> bool:
                return b"Parts" in received

            await _until(parts, True)
            reader.cancel()
    assert b'"title":"Parts"' in bytes(received)
    await _until(lambda: _subscribers(platform, user), 0)
