"""The pipeline when Redis fails it: unreachable, each caller is told what cannot be checked
(its session, or the rate limits) and an anonymous WebSocket is still acknowledged; a persisted
query Redis answers with bytes that are not text is an unexpected failure, masked and logged."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from tests.router.platform.conftest import RouterClient, router_client, router_config
from vetrai.settings import PlatformSettings

MASKED = {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}


async def _websocket(router: RouterClient, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The acknowledgement of an anonymous connection_init and the first answer to
    ``payload``."""
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        answers = [orjson.loads(await asyncio.wait_for(ws.recv(), 10))]
        await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": payload}).decode())
        while answers[-1]["type"] in ("connection_ack", "ping") and len(answers) < 10:
            answers.append(orjson.loads(await asyncio.wait_for(ws.recv(), 10)))
    return [a for a in answers if a["type"] != "ping"]


async def test_with_redis_unreachable_each_caller_is_told_what_cannot_be_checked(
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    router: RouterClient,
) -> None:
    _, token = await router.sign_up()
    unreachable = settings.replace(redis_url="redis://127.0.0.1:9/0")
    async with router_client(unreachable, supergraph_sdl, subgraph_urls, router_config()) as down:
        anonymous = await down.post("{ __typename }")
        signed_in = await down.post("{ __typename }", authorization=f"Bearer {token}")
        over_websocket = await _websocket(down, {"query": "{ __typename }"})
    for answer, what in ((anonymous, "Rate limits"), (signed_in, "Sessions")):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["errors"] == [
            {
                "message": f"{what} cannot be checked right now.",
                "extensions": {"code": "SERVICE_UNAVAILABLE"},
            }
        ]
    # An anonymous connection has no session to check: acknowledged, then refused per operation.
    ack, refused = over_websocket
    assert ack["type"] == "connection_ack"
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_a_persisted_query_stored_as_bytes_that_are_not_text_is_masked(
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    digest = hashlib.sha256(b"{ __typename } # corrupted").hexdigest()
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    await redis.set(f"vetrai:apq:{digest}", b"\xff\xfe not utf-8", ex=60)
    await redis.aclose()
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    caplog.set_level(logging.ERROR, logger="vetrai.router")
    async with router_client(settings, supergraph_sdl, subgraph_urls, router_config()) as router:
        answer = await router.client.post("/graphql", json=body)
        over_websocket = await _websocket(router, body)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"errors": [MASKED]}
    assert over_websocket[1] == {"type": "error", "id": "1", "payload": [MASKED]}
    failures = [r for r in caplog.records if r.getMessage().startswith("unexpected router failure")]
    assert len(failures) == 2
    assert all(isinstance(r.exc_info and r.exc_info[1], UnicodeDecodeError) for r in failures)
