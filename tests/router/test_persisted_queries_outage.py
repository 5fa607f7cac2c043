"""While Redis cannot be reached, an automatic persisted query is answered 503 (try again), as a
rate limit that cannot be checked is, never 500; an ordinary query still runs."""

from __future__ import annotations

import hashlib

import httpx

from router.app import create_router
from router.config import RateLimits, RouterConfig
from tests.router.conftest import SUPERGRAPH_SDL
from tests.router.fedfixtures.server import SubgraphServer
from tests.router.platform.conftest import served
from vetrai.settings import PlatformSettings

ME = "{ me { name } }"


async def test_persisted_queries_are_unavailable_while_redis_is_unreachable(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> None:
    unreachable = settings.replace(
        jwks_url="http://127.0.0.1:9/jwks.json", redis_url="redis://127.0.0.1:9/0"
    )
    config = RouterConfig(rate_limits=RateLimits(enabled=False), subgraph_timeout_seconds=1.0)
    app = create_router(unreachable, SUPERGRAPH_SDL, subgraphs.urls(), config)
    digest = hashlib.sha256(ME.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        for body in ({"extensions": extensions}, {"query": ME, "extensions": extensions}):
            response = await client.post("/graphql", json=body)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert response.json() == {
                "errors": [
                    {
                        "message": "Persisted queries cannot be read right now.",
                        "extensions": {"code": "SERVICE_UNAVAILABLE"},
                    }
                ]
            }
        plain = await client.post("/graphql", json={"query": ME})
    assert plain.json() == {"data": {"me": {"name": "Ada Lovelace"}}}
