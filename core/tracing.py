"""OpenTelemetry traces across the router and the subgraphs: W3C ``traceparent`` read from
incoming requests and sent on every subgraph request. Spans are exported over OTLP/HTTP only
when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the standard variable's name); otherwise they
only carry trace ids from hop to hop and into the logs."""

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
    """Install the process's tracer provider once (later calls change nothing); spans go to
    the OTLP/HTTP collector at ``endpoint`` when there is one."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if processor is None and endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        processor = BatchSpanProcessor(exporter)
    if processor is not None:
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
