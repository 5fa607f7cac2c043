"""Fixture subgraphs over real HTTP, and our router in front of them."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.requests import Request

from router.edge import create_app
from tests.router.fedfixtures.server import SubgraphServer, serve_subgraphs
from tests.router.fedfixtures.subgraphs import DATA_DIR, reset_data

SUPERGRAPH_SDL = (DATA_DIR / "supergraph.graphql").read_text()
ROUTER_TIMEOUT = 1.0


@pytest_asyncio.fixture(scope="session")
async def subgraphs() -> AsyncIterator[SubgraphServer]:
    async with serve_subgraphs() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    reset_data()
    if "subgraphs" in request.fixturenames:
        server: SubgraphServer = request.getfixturevalue("subgraphs")
        server.requests.clear()
        server.faults.clear()
        server.abandoned.clear()
        server.events.clear()
        server.seen_headers.clear()


def caller_headers(service: str, request: Request) -> dict[str, str]:
    return {"x-caller-context": f"{service} for {request.headers.get('authorization')}"}


@pytest_asyncio.fixture(scope="session")
async def router(subgraphs: SubgraphServer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        SUPERGRAPH_SDL,
        subgraph_urls=subgraphs.urls(),
        subgraph_headers=caller_headers,
        expose_plans=True,
        subgraph_timeout=ROUTER_TIMEOUT,
        override_roll=lambda: 0.99,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        yield client
    await app.state.router.executor.client.aclose()
