"""What operators see: one log line per operation (request id, name, caller; never a token or
a key) and metrics by operation and outcome, judged from the result and not from its bytes."""

from __future__ import annotations

import logging
import re
import secrets

import pytest

from tests.router.platform.conftest import RouterClient, router_client, router_config
from vetrai.settings import PlatformSettings


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
    assert fields["fetches"] == 1
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


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
