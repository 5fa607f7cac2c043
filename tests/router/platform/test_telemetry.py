"""What operators see: one log line per operation (request id, name, caller; never a token or
a key) and metrics by operation and outcome."""

from __future__ import annotations

import logging

import pytest

from subgraphs.kernel.settings import Settings
from tests.router.platform.conftest import RouterClient, router_client, router_config


async def test_operation_log_line_names_the_caller_but_no_secret(
    router: RouterClient, caplog: pytest.LogCaptureFixture
) -> None:
    user, token = await router.sign_up()
    caplog.set_level(logging.INFO, logger="vetrai.router")
    response = await router.client.post(
        "/graphql",
        json={"query": "query WhoAmI { me { id } }", "operationName": "WhoAmI"},
        headers={"authorization": f"Bearer {token}", "x-request-id": "trace-me-1"},
    )
    assert response.headers["x-request-id"] == "trace-me-1"
    records = [r for r in caplog.records if getattr(r, "fields", {}).get("operation") == "WhoAmI"]
    assert len(records) == 1
    fields = records[0].fields  # type: ignore[attr-defined]
    assert fields["caller"] == user
    assert fields["outcome"] == "ok"
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


async def test_metrics_by_operation_and_outcome(
    settings: Settings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    async with router_client(settings, supergraph_sdl, subgraph_urls, router_config()) as router:
        for _ in range(2):
            await router.client.post(
                "/graphql",
                json={"query": "query Counted { me { id } }", "operationName": "Counted"},
            )
        await router.client.post("/graphql", json={"query": "query Broken { nope }"})
        metrics = (await router.client.get("/metrics")).text
    assert 'vetrai_router_operations_total{operation="Counted",outcome="ok"} 2.0' in metrics
    assert 'vetrai_router_operation_seconds_count{outcome="ok"} 2.0' in metrics
    assert 'vetrai_router_operations_total{operation="anonymous",outcome="refused"} 1.0' in metrics
    assert 'vetrai_router_cache_lookups_total{cache="plans",result="hit"}' in metrics
    assert 'vetrai_router_subgraph_fetch_seconds_count{subgraph="auth"} 2.0' in metrics


async def test_unreachable_subgraph_is_counted_as_a_fetch_error(
    settings: Settings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    broken = {**subgraph_urls, "auth": "http://127.0.0.1:9/graphql"}
    async with router_client(settings, supergraph_sdl, broken, router_config()) as router:
        answer = await router.post("{ me { id } }")
        assert answer.json()["errors"][0]["extensions"]["code"] == "SUBGRAPH_ERROR"
        metrics = (await router.client.get("/metrics")).text
    assert (
        'vetrai_router_subgraph_fetch_errors_total{code="SUBGRAPH_ERROR",subgraph="auth"} 1.0'
        in metrics
    )
