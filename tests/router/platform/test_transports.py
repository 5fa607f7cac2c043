"""Every transport runs the same pipeline: the same request over POST, GET, multipart HTTP and
graphql-transport-ws is refused with the same code."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import DirectiveDefinitionNode, parse, print_ast
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from router.config import PersistedQueries, RouterConfig, Window
from tests.router.platform.conftest import (
    RouterClient,
    fresh_rate_limits,
    router_client,
    router_config,
)
from vetrai.settings import PlatformSettings

PREFLIGHT = {"apollo-require-preflight": "1"}
MULTIPART = "multipart/mixed;subscriptionSpec=1.0, application/json"
TRANSPORTS = ("post", "get", "multipart", "websocket")
# currentOrganization 1 + members 10 x 1 + one fetch 10 = 21
CHEAP_AND_THREE_DEEP = "{ currentOrganization { members { role } } }"


async def _http_code(
    router: RouterClient, transport: str, body: dict[str, Any], **headers: str
) -> str:
    if transport == "get":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        response = await router.client.get(
            "/graphql", params=params, headers={**PREFLIGHT, **headers}
        )
    else:
        accept = MULTIPART if transport == "multipart" else "application/json"
        response = await router.client.post(
            "/graphql", json=body, headers={"accept": accept, **headers}
        )
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def _websocket_code(router: RouterClient, body: dict[str, Any], **headers: str) -> str:
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": headers}).decode())
        try:
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed as closed:
            return closed.rcvd.reason if closed.rcvd else "closed without a reason"
        assert ack["type"] == "connection_ack"
        await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": body}).decode())
        while True:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] != "ping":
                break
    assert message["type"] == "error", message
    code: str = message["payload"][0]["extensions"]["code"]
    return code


async def codes(router: RouterClient, body: dict[str, Any], **headers: str) -> dict[str, str]:
    """The refusal code of ``body`` over each transport."""
    found = {t: await _http_code(router, t, body, **headers) for t in TRANSPORTS[:3]}
    found["websocket"] = await _websocket_code(router, body, **headers)
    return found


def _all(code: str) -> dict[str, str]:
    return dict.fromkeys(TRANSPORTS, code)


@pytest.fixture(scope="module")
async def strict(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> AsyncIterator[RouterClient]:
    config = router_config(max_depth=3, max_aliases=2, max_root_fields=2, max_cost=30)
    config = config.model_copy(
        update={"protection": config.protection.model_copy(update={"introspection": False})}
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as client:
        yield client


async def test_depth_at_the_limit_runs_and_over_it_is_refused_everywhere(
    strict: RouterClient,
) -> None:
    assert (await strict.post(CHEAP_AND_THREE_DEEP)).status_code == 200
    over = {"query": "{ me { organizations { members { role } } } }"}
    assert await codes(strict, over) == _all("MAX_DEPTH_EXCEEDED")


async def test_aliases_over_the_limit_are_refused_everywhere(strict: RouterClient) -> None:
    assert (await strict.post("{ me { a: id b: id } }")).status_code == 200
    over = {"query": "{ me { a: id b: id c: id } }"}
    assert await codes(strict, over) == _all("MAX_ALIASES_EXCEEDED")


async def test_root_fields_over_the_limit_are_refused_everywhere(strict: RouterClient) -> None:
    assert (await strict.post("{ me { id } __typename }")).status_code == 200
    over = {"query": "{ me { id } currentOrganization { id } __typename }"}
    assert await codes(strict, over) == _all("MAX_ROOT_FIELDS_EXCEEDED")


async def test_cost_over_the_limit_is_refused_everywhere(strict: RouterClient) -> None:
    # me 1 + organizations 10 x 1 + two fetches x 10 = 31, one over the limit of 30
    assert (await strict.post(CHEAP_AND_THREE_DEEP)).status_code == 200
    over = {"query": "{ me { organizations { id } } }", "variables": {}}
    assert await codes(strict, over) == _all("COST_LIMIT_EXCEEDED")
    assert (await strict.client.post("/graphql", json=over)).status_code == 400


async def test_a_documents_depth_is_measured_with_each_requests_variables(
    strict: RouterClient,
) -> None:
    query = """query($deep: Boolean!) {
      me { id organizations @include(if: $deep) { members { role } } } }"""
    shallow = await strict.post(query, {"deep": False})
    assert shallow.status_code == 200, shallow.text
    deep = await strict.post(query, {"deep": True})
    assert deep.status_code == 400
    assert deep.json()["errors"][0]["extensions"]["code"] == "MAX_DEPTH_EXCEEDED"


async def test_introspection_turned_off_is_refused_everywhere(strict: RouterClient) -> None:
    over = {"query": "{ __schema { queryType { name } } }"}
    assert await codes(strict, over) == _all("INTROSPECTION_DISABLED")


async def test_invalid_documents_and_variables_get_the_same_codes(strict: RouterClient) -> None:
    assert await codes(strict, {"query": "{ nope }"}) == _all("GRAPHQL_VALIDATION_FAILED")
    assert await codes(strict, {"query": "{ me {"}) == _all("GRAPHQL_PARSE_FAILED")
    typed = {"query": "query($id: ID!) { organization(id: $id) { id } }", "variables": {}}
    assert await codes(strict, typed) == _all("BAD_USER_INPUT")


async def test_bad_credentials_are_unauthenticated_everywhere(router: RouterClient) -> None:
    body = {"query": "{ me { id } }"}
    found = await codes(router, body, authorization="Bearer not-a-token")
    assert found == _all("UNAUTHENTICATED")


async def test_persisted_only_refuses_unlisted_operations_everywhere(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str], tmp_path: Path
) -> None:
    listed = "query Listed { __typename }"
    digest = hashlib.sha256(listed.encode()).hexdigest()
    manifest = tmp_path / "manifest.json"
    operation = {"id": digest, "body": listed, "name": "Listed", "type": "query"}
    manifest.write_text(json.dumps({"format": "x", "version": 1, "operations": [operation]}))
    config = router_config().model_copy(
        update={"persisted_queries": PersistedQueries(persisted_only=True, manifest=manifest)}
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        assert await codes(router, {"query": "{ me { id } }"}) == _all(
            "PERSISTED_QUERY_NOT_IN_LIST"
        )


async def test_rate_limit_per_operation_applies_to_every_transport(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    rules = fresh_rate_limits(operations={"Limited": Window(limit=1, window_seconds=60)})
    config = RouterConfig(rate_limits=rules)
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        body = {"query": "query Limited { __typename }"}
        assert (await router.client.post("/graphql", json=body)).status_code == 200
        assert await codes(router, body) == _all("RATE_LIMITED")


async def test_rate_limit_per_organization_applies_to_every_transport(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    rules = fresh_rate_limits(plans={"free": Window(limit=3, window_seconds=60)})
    async with router_client(
        settings, supergraph_sdl, subgraph_urls, RouterConfig(rate_limits=rules)
    ) as router:
        token, _ = await router.owner_of_new_organization()
        bearer = f"Bearer {token}"
        while (await router.post("{ __typename }", authorization=bearer)).status_code == 200:
            pass
        assert await codes(router, {"query": "{ __typename }"}, authorization=bearer) == _all(
            "RATE_LIMITED"
        )


async def test_body_over_the_limit_is_refused_over_http_and_websocket(
    router: RouterClient,
) -> None:
    body = {"query": "{ __typename }", "variables": {"pad": "x" * 1_000_001}}
    found = {t: await _http_code(router, t, body) for t in ("post", "multipart")}
    found["websocket"] = await _websocket_code(router, body)
    assert found == {
        "post": "BODY_TOO_LARGE",
        "multipart": "BODY_TOO_LARGE",
        "websocket": "BODY_TOO_LARGE",
    }


async def test_mutations_over_get_are_refused(router: RouterClient) -> None:
    body = {"query": 'mutation { logOut(refreshToken: "x") { __typename } }'}
    assert await _http_code(router, "get", body) == "METHOD_NOT_ALLOWED"
    answer = await router.client.get(
        "/graphql", params=body, headers={"apollo-require-preflight": "1"}
    )
    assert answer.status_code == 405


def _unplannable_supergraph() -> str:
    """A supergraph whose ``Thing.other`` lives in a subgraph that cannot fetch a Thing (no
    key): planning ``{ thing { other } }`` fails."""
    fixture = parse((Path(__file__).parents[1] / "fedfixtures/data/supergraph.graphql").read_text())
    header = [
        print_ast(d)
        for d in fixture.definitions
        if isinstance(d, DirectiveDefinitionNode)
        or (
            hasattr(d, "name")
            and d.name.value.startswith(
                ("join__Field", "join__Directive", "join__Context", "link__")
            )
        )
    ]
    return "\n".join(
        [
            'schema @link(url: "https://specs.apollo.dev/link/v1.0") '
            '@link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION) { query: Query }',
            *header,
            'enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:9/a") '
            'B @join__graph(name: "b", url: "http://127.0.0.1:9/b") }',
            "type Query @join__type(graph: A) { thing: Thing @join__field(graph: A) }",
            "type Thing @join__type(graph: A) @join__type(graph: B) "
            "{ id: ID! @join__field(graph: A) other: String @join__field(graph: B) }",
        ]
    )


async def test_planning_failures_are_json_errors_everywhere(settings: PlatformSettings) -> None:
    offline = settings.replace(jwks_url="http://127.0.0.1:9/jwks.json")
    async with router_client(offline, _unplannable_supergraph(), {}, router_config()) as router:
        response = await router.client.post("/graphql", json={"query": "{ thing { other } }"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        assert await codes(router, {"query": "{ thing { other } }"}) == _all(
            "QUERY_PLANNING_FAILED"
        )
