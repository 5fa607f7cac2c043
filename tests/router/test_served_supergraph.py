"""A served supergraph's caches of documents and of pruned plans are bounded (1024 each), so
no stream of distinct operations or grants grows the router's memory without end (those kept
are the most recently used; a document is parsed once, and measured once when no variables can
change its measure); and its subgraph connections close when the router stops or when a reload
retires it, after the requests it is serving end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from starlette.applications import Starlette

from router.app import create_router
from router.authorization import Grants
from router.config import RateLimits, RouterConfig
from router.pipeline.operation import Document, Params
from router.pipeline.runtime import Served
from tests.router.conftest import SUPERGRAPH_SDL
from tests.router.fedfixtures.server import SubgraphServer
from tests.router.platform.conftest import served as serving
from tests.router.test_hot_reload import _sockets, _until
from vetrai.settings import PlatformSettings

KEPT = 1024
ME = "{ me { name } }"


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    served = Served(SUPERGRAPH_SDL, {}, timeout=1.0, observe=None)
    yield served
    await served.aclose()


def _document(source: str) -> Document:
    parsed = parse(source)
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return Document(source, parsed, operation, {}, None, None)


def _grants(n: int) -> Grants:
    return Grants(scopes=frozenset({f"scope:{n}"}))


async def test_the_1024_latest_documents_are_kept(served: Served) -> None:
    document = _document(ME)
    for n in range(KEPT + 1):
        served.remember((f"{ME} # {n}", None), document)
    assert len(served.documents) == KEPT
    assert (f"{ME} # 0", None) not in served.documents
    assert (f"{ME} # 1", None) in served.documents
    assert (f"{ME} # {KEPT}", None) in served.documents


async def test_the_1024_most_recently_used_pruned_plans_are_kept(served: Served) -> None:
    document = _document(ME)
    labels: frozenset[str] = frozenset()
    plans = [
        served.pruned_plan(document, document.document, _grants(n), labels) for n in range(KEPT)
    ]
    assert served.pruned_plan(document, document.document, _grants(0), labels) is plans[0]
    served.pruned_plan(document, document.document, _grants(KEPT), labels)
    assert len(served.pruned_plans) == KEPT
    # The least recently used went: the second, not the first, which was just read again.
    assert served.pruned_plan(document, document.document, _grants(0), labels) is plans[0]
    assert served.pruned_plan(document, document.document, _grants(1), labels) is not plans[1]


async def test_a_document_is_prepared_once_and_kept_while_it_is_read(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> None:
    app = _router(settings, subgraphs)
    async with serving(app):
        pipeline, served = app.state.pipeline, app.state.runtime.served
        first = pipeline.document(served, Params(ME, None, None, None))
        assert pipeline.document(served, Params(ME, None, None, None)) is first
        filler = _document(ME)
        for n in range(KEPT - 1):
            served.remember((f"{ME} # {n}", None), filler)
        # Read again, it is the most recently used: the next one pushes out the oldest other.
        assert pipeline.document(served, Params(ME, None, None, None)) is first
        served.remember((f"{ME} # {KEPT}", None), filler)
        assert (ME, None) in served.documents
        assert (f"{ME} # 0", None) not in served.documents


async def test_a_document_without_variables_is_measured_once_and_one_with_them_per_request(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> None:
    app = _router(settings, subgraphs)
    async with serving(app):
        pipeline, served = app.state.pipeline, app.state.runtime.served
        plain = pipeline.document(served, Params(ME, None, None, None))
        typed = "query($named: Boolean!) { me { name @include(if: $named) } }"
        with_variables = pipeline.document(served, Params(typed, None, None, None))
    assert plain.measure is not None
    assert with_variables.measure is None


def _router(settings: PlatformSettings, subgraphs: SubgraphServer) -> Starlette:
    offline = settings.replace(jwks_url="http://127.0.0.1:9/jwks.json")
    config = RouterConfig(rate_limits=RateLimits(enabled=False), subgraph_timeout_seconds=10.0)
    return create_router(offline, SUPERGRAPH_SDL, subgraphs.urls(), config)


async def test_stopping_the_router_closes_its_subgraph_connections(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> None:
    app = _router(settings, subgraphs)
    before = _sockets()
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        await client.get("/health")
        idle = _sockets()
        response = await client.post("/graphql", json={"query": ME})
        assert response.json() == {"data": {"me": {"name": "Ada Lovelace"}}}
        await client.get("/health")  # time for a connection closed after the request to go
        # while it runs, the router keeps its subgraph connection (both ends) for the next request
        assert _sockets() >= idle + 2
    # closed at shutdown: well before the subgraph server would drop it itself (5 s)
    await _until(lambda: _sockets() <= before, seconds=1.0)


async def test_a_reload_retires_a_supergraph_when_its_last_request_ends(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> None:
    app = _router(settings, subgraphs)
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        await client.post("/graphql", json={"query": ME})
        before = _sockets()
        subgraphs.faults["accounts"] = "slow"
        slow = asyncio.create_task(client.post("/graphql", json={"query": ME}))
        old = app.state.runtime.served
        await _until(lambda: old.users == 1)
        await app.state.runtime.swap(SUPERGRAPH_SDL)
        subgraphs.faults.clear()
        # The request in flight finishes on the retired supergraph, whose connections then go.
        assert (await slow).json() == {"data": {"me": {"name": "Ada Lovelace"}}}
        await client.post("/graphql", json={"query": ME})
        await _until(lambda: _sockets() <= before, seconds=1.0)
        assert app.state.runtime.served is not old
