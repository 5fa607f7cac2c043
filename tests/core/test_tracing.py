"""Spans are recorded only when there is a collector to export them to: a process set up as
the commands set themselves up, with ``OTEL_EXPORTER_OTLP_ENDPOINT``, sends its server spans
over OTLP/HTTP; without it, it records none and still carries a caller's trace to the next
hop. Each process is a fresh interpreter: a process installs its tracer provider once."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# A request through a server wrapped in Observe for each traceparent given ("": none), whose app
# answers the headers it would send to the next hop and whether its span records; then the
# provider is shut down (its spans sent).
_SERVE = """
import asyncio, sys
import orjson
from opentelemetry import trace
from core.observe import HttpMetrics, Observe
from core.tracing import outgoing
from vetrai.commands import telemetry
from vetrai.settings import load_settings

telemetry(load_settings(), "traced")

async def app(scope, receive, send):
    seen = {"next_hop": outgoing(), "recording": trace.get_current_span().is_recording()}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": orjson.dumps(seen)})

async def main():
    server = Observe(app, HttpMetrics("traced", frozenset({"/graphql"})))
    for traceparent in sys.argv[1:]:
        headers = [(b"traceparent", traceparent.encode())] if traceparent else []
        scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}
        sent = []
        async def send(message):
            sent.append(message)
        await server(scope, None, send)
        print(sent[-1]["body"].decode())

asyncio.run(main())
provider = trace.get_tracer_provider()
print(type(provider).__module__, flush=True)
getattr(provider, "shutdown", lambda: None)()
"""


class _Collector(BaseHTTPRequestHandler):
    exported: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/v1/traces":
            self.exported.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """An OTLP/HTTP collector in this process, and what it received."""
    exported: list[ExportTraceServiceRequest] = []
    handler = type("Handler", (_Collector,), {"exported": exported})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", exported
    server.shutdown()
    thread.join()
    server.server_close()


def _serve(endpoint: str | None, *traceparents: str) -> tuple[list[dict[str, object]], str]:
    """What each served request saw, and the module of the process's tracer provider."""
    env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
    if endpoint is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    output = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _SERVE, *traceparents],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    ).stdout.splitlines()
    return [orjson.loads(line) for line in output[-1 - len(traceparents) : -1]], output[-1]


def _caller_trace() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def test_with_an_endpoint_server_spans_are_exported_to_it(
    collector: tuple[str, list[ExportTraceServiceRequest]],
) -> None:
    url, exported = collector
    trace_id, traceparent = _caller_trace()

    [seen], provider = _serve(url, traceparent)

    assert provider == "opentelemetry.sdk.trace"
    assert seen["recording"] is True
    spans = [
        (span.name, span.trace_id.hex())
        for request in exported
        for resources in request.resource_spans
        for scoped in resources.scope_spans
        for span in scoped.spans
    ]
    assert spans == [("traced POST /graphql", trace_id)]
    [resources] = [r for request in exported for r in request.resource_spans]
    service = [
        a.value.string_value for a in resources.resource.attributes if a.key == "service.name"
    ]
    assert service == ["traced"]
    next_hop = seen["next_hop"]
    assert isinstance(next_hop, dict)
    assert next_hop["traceparent"].split("-")[1] == trace_id


def test_without_an_endpoint_no_span_is_recorded_and_the_callers_trace_goes_on() -> None:
    _, traceparent = _caller_trace()

    (carried, fresh), provider = _serve(None, traceparent, "")

    assert provider == "opentelemetry.trace"  # the API's own: no SDK provider installed
    assert carried == {"next_hop": {"traceparent": traceparent}, "recording": False}
    assert fresh == {"next_hop": {}, "recording": False}
