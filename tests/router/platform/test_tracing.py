"""One trace from the client through the router into every subgraph it calls (W3C
traceparent), and the trace id in the subgraphs' log lines."""

from __future__ import annotations

import logging
import secrets

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.tracing import configure_tracing
from tests.router.platform.conftest import RouterClient


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("tests", processor=SimpleSpanProcessor(exporter))
    return exporter


async def test_client_trace_continues_through_router_and_subgraphs(
    router: RouterClient, spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await router.sign_up()
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    spans.clear()
    caplog.set_level(logging.INFO)
    response = await router.client.post(
        "/graphql",
        json={"query": "{ me { id organizations { id } } }"},
        headers={
            "authorization": f"Bearer {token}",
            "traceparent": f"00-{trace_id}-{parent}-01",
        },
    )
    assert response.status_code == 200
    finished = [
        s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id
    ]
    router_span = next(s for s in finished if s.name == "router POST /graphql")
    assert router_span.parent is not None
    assert format(router_span.parent.span_id, "016x") == parent
    served = {
        s.name.split()[0]
        for s in finished
        if s.parent and s.parent.span_id == router_span.context.span_id
    }
    assert {"auth", "tenancy"} <= served
    logged = {r.trace_id for r in caplog.records if r.name == "vetrai.http"}  # type: ignore[attr-defined]
    assert trace_id in logged
