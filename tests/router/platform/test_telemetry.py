"""What operators see: one log line per request, naming its operation (request id, name,
caller; never a token or a key) and metrics by operation and outcome, judged from the result
and not from its bytes."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets

import orjson
import pytest
from websockets.asyncio.client import connect

from tests.router.platform.conftest import RouterClient, router_client, router_config
from vetrai.settings import PlatformSettings


async def test_operation_log_line_names_the_caller_but_no_secret(
    router: RouterClient, caplog: pytest.LogCaptureFixture
) -> None:
    user, token = await router.sign_up()
    caplog.set_level(logging.INFO)
    response = await router.client.post(
        "/graphql",
        json={"query": "query WhoAmI { me { id } }", "operationName": "WhoAmI"},
        headers={"authorization": f"Bearer {token}", "x-request-id": "trace-me-1"},
    )
    assert response.headers["x-request-id"] == "trace-me-1"
    records = [r for r in caplog.records if getattr(r, "fields", {}).get("operation") == "WhoAmI"]
    assert len(records) == 1  # the request's one line, naming its operation
    assert records[0].request_id == "trace-me-1"  # type: ignore[attr-defined]
    fields = records[0].fields  # type: ignore[attr-defined]
    assert (fields["service"], fields["path"], fields["status"]) == ("router", "/graphql", 200)
    assert fields["caller"] == user
    assert fields["outcome"] == "ok"
    assert fields["fetches"] == 1
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def _lines(caplog: pytest.LogCaptureFixture, operation: str) -> list[tuple[str, str]]:
    return [
        (r.getMessage(), r.fields.get("path", "-"))  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "fields", {}).get("operation") == operation
    ]


async def test_each_operation_of_a_batch_is_logged_once(
    router: RouterClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first, second = (f"Op{secrets.token_hex(4)}" for _ in range(2))
    response = await router.client.post(
        "/graphql",
        json=[
            {"query": f"query {first} {{ __typename }}", "operationName": first},
            {"query": f"query {second} {{ __typename }}", "operationName": second},
        ],
    )
    assert response.status_code == 200
    # The batch's operations run at once: whichever ends first is named in the request's line.
    lines = sorted([*_lines(caplog, first), *_lines(caplog, second)])
    assert lines == [("operation", "-"), ("request", "/graphql")]


async def test_an_operation_over_websocket_gets_a_line_of_its_own(
    router: RouterClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    name = f"Ws{secrets.token_hex(4)}"
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        query = {"query": f"query {name} {{ __typename }}", "operationName": name}
        await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": query}).decode())
        while orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "complete":
            pass
    assert _lines(caplog, name) == [("operation", "-")]


def _count(metrics: str, operation: str, outcome: str) -> float:
    line = f'vetrai_router_operations_total{{operation="{operation}",outcome="{outcome}"}} '
    found = [float(row[len(line) :]) for row in metrics.splitlines() if row.startswith(line)]
    return found[0] if found else 0.0


async def test_a_mutation_answering_an_empty_errors_list_counts_as_ok(
    router: RouterClient,
) -> None:
    _, token = await router.sign_up()
    name = f"Create{secrets.token_hex(4)}"
    created = await router.data(
        f"""mutation {name}($s: String!) {{ createOrganization(input: {{name: "Acme", slug: $s}})
        {{ organization {{ id }} errors {{ code }} }} }}""",
        {"s": f"acme-{secrets.token_hex(4)}"},
        authorization=f"Bearer {token}",
    )
    assert created["createOrganization"]["errors"] == []
    metrics = (await router.client.get("/metrics")).text
    assert (_count(metrics, name, "ok"), _count(metrics, name, "errors")) == (1.0, 0.0)


async def test_refused_operations_count_as_refused_under_their_given_name(
    router: RouterClient,
) -> None:
    name = f"Broken{secrets.token_hex(4)}"
    body = {"query": f"query {name} {{ nope }}", "operationName": name}
    assert (await router.client.post("/graphql", json=body)).status_code == 400
    metrics = (await router.client.get("/metrics")).text
    assert (_count(metrics, name, "refused"), _count(metrics, name, "ok")) == (1.0, 0.0)
    assert re.search(r'vetrai_router_stage_seconds_count\{stage="prepare"\} [1-9]', metrics)


async def test_unreachable_subgraph_counts_as_errors_and_as_a_fetch_error(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    broken = {**subgraph_urls, "auth": "http://127.0.0.1:9/graphql"}
    async with router_client(settings, supergraph_sdl, broken, router_config()) as router:
        answer = await router.post("query Failing { me { id } }")
        assert answer.json()["errors"][0]["extensions"]["code"] == "SUBGRAPH_ERROR"
        metrics = (await router.client.get("/metrics")).text
    assert _count(metrics, "Failing", "errors") == 1.0
    assert _count(metrics, "Failing", "ok") == 0.0
    assert (
        'vetrai_router_subgraph_fetch_errors_total{code="SUBGRAPH_ERROR",subgraph="auth"} 1.0'
        in metrics
    )
    assert 'vetrai_router_subgraph_fetch_seconds_count{subgraph="auth"} 1.0' in metrics
    assert re.search(r'vetrai_router_stage_seconds_count\{stage="execute"\} 1\.0', metrics)
    assert 'vetrai_router_cache_lookups_total{cache="plans",result="miss"} 1.0' in metrics
