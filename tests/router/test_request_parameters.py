"""The router's reading of a request's parameters: each of the wrong type, or not JSON where
JSON text is expected, is a 400 naming it; JSON text over GET and empty strings read as the
client meant them. Every error of a document is answered, without a ``data`` entry; an
operation that authorization leaves empty is answered with empty data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.app import create_router
from router.config import RateLimits, RouterConfig
from tests.router.conftest import SUPERGRAPH_SDL
from tests.router.fedfixtures.server import SubgraphServer
from tests.router.platform.conftest import served
from vetrai.settings import PlatformSettings

ME = "{ me { name } }"
USER = "query($id: ID!) { user(id: $id) { name } }"
PREFLIGHT = {"apollo-require-preflight": "1"}
PLATFORM = Path(__file__).parents[2] / "schema/supergraph.graphql"


@pytest.fixture(scope="module")
async def gate(
    settings: PlatformSettings, subgraphs: SubgraphServer
) -> AsyncIterator[httpx.AsyncClient]:
    """The router in front of the fixture subgraphs, for anonymous callers only."""
    async with _anonymous(settings, SUPERGRAPH_SDL, subgraphs.urls()) as client:
        yield client


@asynccontextmanager
async def _anonymous(
    settings: PlatformSettings, sdl: str, urls: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    offline = settings.replace(jwks_url="http://127.0.0.1:9/jwks.json")
    config = RouterConfig(rate_limits=RateLimits(enabled=False), subgraph_timeout_seconds=1.0)
    app = create_router(offline, sdl, urls, config)
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield client


def _refusal(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": 5}, "The query must be a string."),
        ({"query": ME, "operationName": 5}, "The operation name must be a string."),
        ({"query": ME, "variables": [1]}, "Variables must be an object."),
        ({"query": ME, "variables": '"text"'}, "Variables must be an object."),
        ({"query": ME, "extensions": [1]}, "Extensions must be an object."),
        ({"query": ME, "variables": "{"}, "A parameter is not valid JSON."),
        ({"query": ME, "extensions": "{"}, "A parameter is not valid JSON."),
        ({"query": ""}, "Must provide query string."),
    ],
)
async def test_a_parameter_of_the_wrong_type_is_a_bad_request(
    gate: httpx.AsyncClient, subgraphs: SubgraphServer, body: dict[str, Any], message: str
) -> None:
    response = await gate.post("/graphql", json=body)
    assert (response.status_code, response.json()) == (400, _refusal(message))
    assert subgraphs.requests == {}


async def test_each_operation_must_be_a_json_object(gate: httpx.AsyncClient) -> None:
    alone = await gate.post("/graphql", json=5)
    assert (alone.status_code, alone.json()) == (
        400,
        _refusal("Each operation must be a JSON object."),
    )
    batch = await gate.post("/graphql", json=["x", {"query": ME}])
    assert batch.status_code == 200
    assert batch.json() == [
        _refusal("Each operation must be a JSON object."),
        {"data": {"me": {"name": "Ada Lovelace"}}},
    ]


async def test_variables_arrive_as_an_object_in_a_body_or_as_json_text(
    gate: httpx.AsyncClient,
) -> None:
    alan = {"data": {"user": {"name": "Alan Turing"}}}
    posted = await gate.post("/graphql", json={"query": USER, "variables": {"id": "2"}})
    assert posted.json() == alan
    as_text = await gate.post("/graphql", json={"query": USER, "variables": '{"id": "2"}'})
    assert as_text.json() == alan
    params = {"query": USER, "variables": '{"id": "2"}'}
    got = await gate.get("/graphql", params=params, headers=PREFLIGHT)
    assert (got.status_code, got.json()) == (200, alan)
    broken = await gate.get("/graphql", params={"query": ME, "variables": "{"}, headers=PREFLIGHT)
    assert (broken.status_code, broken.json()) == (400, _refusal("A parameter is not valid JSON."))


async def test_an_empty_operation_name_means_none_and_a_given_one_picks_its_operation(
    gate: httpx.AsyncClient,
) -> None:
    unnamed = await gate.post("/graphql", json={"query": ME, "operationName": ""})
    assert unnamed.json() == {"data": {"me": {"name": "Ada Lovelace"}}}
    two = f'query A {ME} query B {{ user(id: "2") {{ name }} }}'
    picked = await gate.post("/graphql", json={"query": two, "operationName": "B"})
    assert picked.json() == {"data": {"user": {"name": "Alan Turing"}}}


async def test_every_error_of_a_document_is_answered(
    gate: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    response = await gate.post("/graphql", json={"query": "{ me { shoeSize hatSize } }"})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["errors"]
    assert [e["message"] for e in body["errors"]] == [
        "Cannot query field 'shoeSize' on type 'User'.",
        "Cannot query field 'hatSize' on type 'User'.",
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    assert subgraphs.requests == {}


async def test_a_body_over_the_limit_is_refused_as_too_large(
    gate: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = b'{"query": "' + b" " * 1_000_000 + b'{ me { name } }"}'
    response = await gate.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == _refusal("The request body exceeds 1000000 bytes.", "BODY_TOO_LARGE")
    assert subgraphs.requests == {}


async def test_an_operation_authorization_leaves_empty_is_answered_with_empty_data(
    settings: PlatformSettings,
) -> None:
    # The platform's supergraph, whose subgraphs are not running: none is asked.
    async with _anonymous(settings, PLATFORM.read_text(), {}) as client:
        response = await client.post("/graphql", json={"query": "{ currentOrganization { id } }"})
    assert response.status_code == 200
    assert response.json() == {
        "data": {},
        "errors": [
            {
                "message": "Unauthorized field or type",
                "path": ["currentOrganization"],
                "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
            }
        ],
    }
