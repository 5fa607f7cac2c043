"""The HTTP edge: GET and POST, validation, introspection, plans, headers, subgraph failures."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.applications import Starlette

from router.edge import create_app
from tests.conftest import eventually
from tests.router.conftest import SUPERGRAPH_SDL
from tests.router.fedfixtures.operations import operation
from tests.router.fedfixtures.server import SubgraphServer, serve_app
from tests.router.multipart import multipart_parts

ME = "{ me { name } }"


async def test_get_runs_queries(router: httpx.AsyncClient, subgraphs: SubgraphServer) -> None:
    response = await router.get("/graphql", params={"query": ME})
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"name": "Ada Lovelace"}}}
    assert subgraphs.requests == {"accounts": 1}


async def test_get_with_variables_and_operation_name(router: httpx.AsyncClient) -> None:
    query = "query A { me { name } } query B($id: ID!) { user(id: $id) { name } }"
    params = {"query": query, "operationName": "B", "variables": '{"id": "2"}'}
    response = await router.get("/graphql", params=params)
    assert response.json() == {"data": {"user": {"name": "Alan Turing"}}}


async def test_get_never_runs_a_mutation(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    response = await router.get("/graphql", params={"query": operation("mutation")})
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert subgraphs.requests == {}


async def test_invalid_operation_gets_validation_errors_and_no_fetch(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    response = await router.post("/graphql", json={"query": "{ me { shoeSize } }"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["message"] == "Cannot query field 'shoeSize' on type 'User'."
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert subgraphs.requests == {}


async def test_syntax_errors_are_parse_failures(router: httpx.AsyncClient) -> None:
    response = await router.post("/graphql", json={"query": "{ me { "})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_missing_required_variable_is_bad_user_input(router: httpx.AsyncClient) -> None:
    query = "query($id: ID!) { user(id: $id) { name } }"
    response = await router.post("/graphql", json={"query": query})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_federation_internals_and_inaccessible_fields_are_unreachable(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    for query in (
        '{ _entities(representations: [{__typename: "User", id: "1"}]) { __typename } }',
        "{ _service { sdl } }",
        "{ me { passwordHash } }",
    ):
        response = await router.post("/graphql", json={"query": query})
        assert response.status_code == 400, query
    assert subgraphs.requests == {}


async def test_introspection_answers_from_the_api_schema(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    query = '{ __schema { queryType { name } } __type(name: "User") { fields { name } } }'
    response = await router.post("/graphql", json={"query": query})
    body = response.json()
    assert body["data"]["__schema"] == {"queryType": {"name": "Query"}}
    fields = [f["name"] for f in body["data"]["__type"]["fields"]]
    assert fields == ["id", "name", "username", "nickname", "reviews"]
    assert subgraphs.requests == {}


async def test_introspection_and_data_in_one_operation(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    query = '{ __type(name: "Brand") { name } me { name } }'
    response = await router.post("/graphql", json={"query": query})
    assert response.json() == {
        "data": {"__type": {"name": "Brand"}, "me": {"name": "Ada Lovelace"}}
    }
    assert subgraphs.requests == {"accounts": 1}


async def test_plan_is_exposed_on_request(router: httpx.AsyncClient) -> None:
    headers = {"Apollo-Expose-Query-Plan": "true"}
    response = await router.post("/graphql", json={"query": ME}, headers=headers)
    plan = response.json()["extensions"]["apolloQueryPlan"]["object"]
    assert plan["node"]["kind"] == "Fetch"
    assert plan["node"]["serviceName"] == "accounts"
    plain = await router.post("/graphql", json={"query": ME})
    assert "extensions" not in plain.json()


async def test_deferred_fragment_comes_in_a_later_part_when_the_client_accepts_parts(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    query = '{ me { name ... @defer(label: "written") { reviews { body } } } }'
    accept = "multipart/mixed;deferSpec=20220824, application/json"

    parts = await router.post("/graphql", json={"query": query}, headers={"accept": accept})
    whole = await router.post("/graphql", json={"query": query})

    assert parts.headers["content-type"] == (
        'multipart/mixed; boundary="graphql"; deferSpec=20220824'
    )
    first, later = multipart_parts(parts.content)
    assert first == {"data": {"me": {"name": "Ada Lovelace"}}, "hasNext": True}
    assert later == {
        "incremental": [
            {
                "data": {"reviews": whole.json()["data"]["me"]["reviews"]},
                "path": ["me"],
                "label": "written",
            }
        ],
        "hasNext": False,
    }
    assert whole.headers["content-type"] == "application/json"
    assert whole.json()["data"]["me"]["reviews"]
    assert subgraphs.requests == {"accounts": 2, "reviews": 2}


async def test_client_gone_cancels_the_deferred_fetches_under_way_and_starts_no_more(
    subgraphs: SubgraphServer,
) -> None:
    subgraphs.faults["reviews"] = "slow"
    app = create_app(SUPERGRAPH_SDL, subgraph_urls=subgraphs.urls(), subgraph_timeout=30)
    query = "{ me { name ... @defer { reviews { body product { ... @defer { name } } } } } }"
    body = orjson.dumps({"query": query})
    head = (
        "POST /graphql HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
        f"Accept: multipart/mixed;deferSpec=20220824\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    try:
        async with serve_app(app) as base:
            address = urlsplit(base)
            reader, writer = await asyncio.open_connection(address.hostname, address.port)
            writer.write(head.encode() + body)
            first = await reader.readuntil(b'"hasNext":true}')
            writer.close()
            await writer.wait_closed()
            await eventually(lambda: subgraphs.abandoned["reviews"] == 1, "reviews abandoned", 10)
    finally:
        await app.state.router.executor.client.aclose()

    assert b'{"data":{"me":{"name":"Ada Lovelace"}},"hasNext":true}' in first
    assert subgraphs.requests == {"accounts": 1, "reviews": 1}


async def test_deferred_fetch_starts_once_the_fetch_it_depends_on_is_done(
    subgraphs: SubgraphServer,
) -> None:
    subgraphs.faults["catalog"] = "slow"
    query = "{ catalogItems { sku } me { name ... @defer { reviews { body } } } }"
    accept = "multipart/mixed;deferSpec=20220824"
    app = create_app(SUPERGRAPH_SDL, subgraph_urls=subgraphs.urls(), subgraph_timeout=30)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            body = {"query": query}
            response = await client.post("/graphql", json=body, headers={"accept": accept})
    finally:
        await app.state.router.executor.client.aclose()

    first, later = multipart_parts(response.content)
    assert first["data"]["me"] == {"name": "Ada Lovelace"}
    assert first["data"]["catalogItems"]
    assert [i["path"] for i in later["incremental"]] == [["me"]]
    assert later["incremental"][0]["data"]["reviews"]
    # The reviews of `me` are asked for while the slow catalog still answers.
    events = subgraphs.events
    assert events.index(("arrived", "reviews")) < events.index(("answered", "catalog"))


async def test_subgraph_headers_hook_runs_for_every_subgraph_request(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    query = {"query": operation("entity_chain")}
    await router.post("/graphql", json=query, headers={"Authorization": "Bearer t"})
    seen = [(name, headers.get("x-caller-context")) for name, headers in subgraphs.seen_headers]
    assert sorted(seen) == [
        ("accounts", "accounts for Bearer t"),
        ("products", "products for Bearer t"),
        ("reviews", "reviews for Bearer t"),
    ]


async def test_failed_subgraph_leaves_partial_data_and_a_coded_error(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    subgraphs.faults["reviews"] = "error"
    response = await router.post("/graphql", json={"query": operation("aliases")})
    assert response.status_code == 200
    assert response.json() == {
        "data": {"table": {"label": "Table", "cost": 899}, "couch": None},
        "errors": [
            {
                "message": "Subgraph 'reviews' answered HTTP 500, not GraphQL.",
                "extensions": {"code": "SUBGRAPH_ERROR", "serviceName": "reviews"},
            },
            {
                "message": "Cannot return null for non-nullable field Product.reviews.",
                "path": ["couch", "reviews"],
                "extensions": {"code": "INVALID_GRAPHQL"},
            },
        ],
    }


async def test_slow_subgraph_times_out_with_partial_data(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    subgraphs.faults["accounts"] = "slow"
    response = await router.post("/graphql", json={"query": operation("parallel_roots")})
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "me": None,
            "topProducts": [{"name": "Table"}],
            "media": [{"title": "Dune"}, {"title": "Arrival"}],
        },
        "errors": [
            {
                "message": "Subgraph 'accounts' timed out.",
                "extensions": {"code": "SUBGRAPH_TIMEOUT", "serviceName": "accounts"},
            }
        ],
    }


async def test_unreachable_subgraph_is_a_subgraph_error(subgraphs: SubgraphServer) -> None:
    urls = {**subgraphs.urls(), "accounts": "http://127.0.0.1:9/graphql"}
    app = create_app(SUPERGRAPH_SDL, subgraph_urls=urls)
    async with _client(app) as client:
        response = await client.post("/graphql", json={"query": ME})
    assert response.json() == {
        "data": {"me": None},
        "errors": [
            {
                "message": "Subgraph 'accounts' could not be reached.",
                "extensions": {"code": "SUBGRAPH_ERROR", "serviceName": "accounts"},
            }
        ],
    }


async def test_progressive_override_follows_the_label_roll(
    subgraphs: SubgraphServer,
) -> None:
    app = create_app(SUPERGRAPH_SDL, subgraph_urls=subgraphs.urls(), override_roll=lambda: 0.1)
    async with _client(app) as client:
        response = await client.post("/graphql", json={"query": operation("override_label_on")})
    assert response.json() == {
        "data": {"topProducts": [{"description": "A sturdy oak table (from catalog)"}]}
    }
    assert subgraphs.requests == {"products": 1, "catalog": 1}


async def test_health(router: httpx.AsyncClient) -> None:
    response = await router.get("/health")
    assert response.json() == {"status": "ok"}


@asynccontextmanager
async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        yield client
    await app.state.router.executor.client.aclose()


async def test_unexpected_failures_are_masked_json_errors(subgraphs: SubgraphServer) -> None:
    def broken_hook(service: str, request: object) -> dict[str, str]:
        raise RuntimeError("secret detail")

    app = create_app(SUPERGRAPH_SDL, subgraph_urls=subgraphs.urls(), subgraph_headers=broken_hook)
    async with _client(app) as client:
        response = await client.post("/graphql", json={"query": ME})
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]
    }


async def test_alias_taking_a_key_fields_name_is_refused_not_misanswered(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    query = "{ topProducts { upc: name reviews { body } } }"
    response = await router.post("/graphql", json={"query": query})
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_PLANNING_FAILED"
    assert subgraphs.requests == {}
