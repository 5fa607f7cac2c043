"""Anonymous callers are rate limited per address: one address spending its limit leaves
another's untouched."""

from __future__ import annotations

import httpx

from router.config import RouterConfig, Window
from tests.router.platform.conftest import fresh_rate_limits, router_client
from vetrai.settings import PlatformSettings

TYPENAME = {"query": "{ __typename }"}


async def test_each_anonymous_address_has_a_limit_of_its_own(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    config = RouterConfig(
        rate_limits=fresh_rate_limits(anonymous=Window(limit=1, window_seconds=60))
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        base = str(router.client.base_url)
        # Linux routes all of 127.0.0.0/8 to the loopback: a second address on this machine.
        other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=base, transport=other) as elsewhere:
            first = await router.client.post("/graphql", json=TYPENAME)
            again = await router.client.post("/graphql", json=TYPENAME)
            from_elsewhere = await elsewhere.post("/graphql", json=TYPENAME)
    assert (first.status_code, again.status_code) == (200, 429)
    assert from_elsewhere.status_code == 200
