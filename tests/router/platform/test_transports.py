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
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from router.config import PersistedQueries, RouterConfig, Window
from subgraphs.kernel.settings import Settings
from tests.router.platform.conftest import (
    RouterClient,
    fresh_rate_limits,
    router_client,
    router_config,
)

PREFLIGHT = {"apollo-require-preflight": "1"}
MULTIPART = "multipart/mixed;subscriptionSpec=1.0, application/json"
TRANSPORTS = ("post", "get", "multipart", "websocket")
# currentOrganization 1 + members 20 x 1 + one fetch 10 = 31
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
            assert closed.rcvd is not None
            return closed.rcvd.reason
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
    settings: Settings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> AsyncIterator[RouterClient]:
    config = router_config(max_depth=3, max_aliases=2, max_root_fields=2, max_cost=40)
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
    # me 1 + organizations 20 x 1 + two fetches x 10 = 41, one over the limit of 40
    assert (await strict.post(CHEAP_AND_THREE_DEEP)).status_code == 200
    over = {"query": "{ me { organizations { id } } }", "variables": {}}
    assert await codes(strict, over) == _all("COST_LIMIT_EXCEEDED")


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
    settings: Settings, supergraph_sdl: str, subgraph_urls: dict[str, str], tmp_path: Path
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
    settings: Settings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    rules = fresh_rate_limits(operations={"Limited": Window(limit=1, window_seconds=60)})
    config = RouterConfig(rate_limits=rules)
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        body = {"query": "query Limited { __typename }"}
        assert (await router.client.post("/graphql", json=body)).status_code == 200
        assert await codes(router, body) == _all("RATE_LIMITED")


async def test_rate_limit_per_organization_applies_to_every_transport(
    settings: Settings, supergraph_sdl: str, subgraph_urls: dict[str, str]
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
