"""OpenTelemetry traces across the router and the subgraphs: W3C ``traceparent`` read from
incoming requests and sent on every subgraph request. Spans are recorded and exported over
OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the standard variable's name);
otherwise the API's no-op tracer records none, and a caller's trace id is still carried to the
next hop and into the logs."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

tracer = trace.get_tracer("vetrai")


def configure_tracing(
    service: str, *, endpoint: str | None = None, processor: SpanProcessor | None = None
) -> None:
    """Install the process's tracer provider once (later calls change nothing) when spans
    have somewhere to go: the OTLP/HTTP collector at ``endpoint``, or ``processor``. Without
    either no provider is installed: recording spans that no one reads would cost every
    request more than the router's own checks."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    if processor is None:
        if not endpoint:
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        )
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)


def incoming(headers: Mapping[str, str]) -> Context:
    """The trace context a caller sent (a fresh trace when it sent none)."""
    return extract(headers)


def outgoing() -> dict[str, str]:
    """Headers that continue the current trace in the next hop."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
