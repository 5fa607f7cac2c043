"""A client that goes away in the middle of a multipart answer, through the platform's router
(identity, limits and the pipeline in front of the engine): the deferred fetches under way are
cancelled and no more start, as at the bare edge."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import orjson

from router.app import create_router
from router.config import RateLimits, RouterConfig
from tests.conftest import eventually
from tests.router.conftest import SUPERGRAPH_SDL
from tests.router.fedfixtures.server import SubgraphServer
from tests.router.platform.conftest import served
from vetrai.settings import PlatformSettings

QUERY = "{ me { name ... @defer { reviews { body product { ... @defer { name } } } } } }"


async def test_client_gone_cancels_the_deferred_fetches_through_the_router(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> None:
    subgraphs.faults["reviews"] = "slow"
    offline = settings.replace(jwks_url="http://127.0.0.1:9/jwks.json")
    config = RouterConfig(rate_limits=RateLimits(enabled=False), subgraph_timeout_seconds=30)
    app = create_router(offline, SUPERGRAPH_SDL, subgraphs.urls(), config)
    body = orjson.dumps({"query": QUERY})
    head = (
        "POST /graphql HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
        f"Accept: multipart/mixed;deferSpec=20220824\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    async with served(app) as base:
        address = urlsplit(base)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        writer.write(head.encode() + body)
        first = await asyncio.wait_for(reader.readuntil(b'"hasNext":true}'), 30)
        writer.close()
        await writer.wait_closed()
        await eventually(lambda: subgraphs.abandoned["reviews"] == 1, "reviews abandoned", 10)

    assert b'{"data":{"me":{"name":"Ada Lovelace"}},"hasNext":true}' in first
    assert subgraphs.requests == {"accounts": 1, "reviews": 1}
