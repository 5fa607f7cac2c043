"""What every process's HTTP server tells operators: a request id, a server span continuing the
caller's trace, one JSON log line and Prometheus metrics per request."""

from __future__ import annotations

import logging
import re
import secrets
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from contextvars import ContextVar
from itertools import accumulate

from opentelemetry.trace import SpanKind, use_span
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import request_id
from core.tracing import incoming, tracer

log = logging.getLogger("vetrai.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNTRACED = nullcontext()
# What the app adds to the request's log line (the router: the operation it served), so that a
# request writes one line; None outside an HTTP request.
request_fields: ContextVar[dict[str, object] | None] = ContextVar("request_fields", default=None)


def route_path(scope: Scope) -> str:
    """The request's path with each path parameter shown by its name, as the route declares
    it: a credential in a path (an approval link's token) stays out of logs and traces."""
    path: str = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        if isinstance(value, str) and value:
            path = path.replace(value, f"{{{name}}}")
    return path


_BOUNDS = Histogram.DEFAULT_BUCKETS  # in seconds, the last +Inf
_LE = [floatToGoString(bound) for bound in _BOUNDS]  # type: ignore[no-untyped-call]


class Timing:
    """One labelled child of ``Timings``."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(_BOUNDS)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(_BOUNDS, seconds)] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        return list(zip(_LE, accumulate(self.counts), strict=True))


class Timings(Collector):
    """A latency histogram (Prometheus' default buckets) counted in plain lists. A server
    observes several per request, all on its event loop's thread, and prometheus_client's
    ``Histogram`` takes a lock for each of the two counts an observation moves: together they
    cost more than a request's own work in the router."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = list(labels)
        self._children: dict[tuple[str, ...], Timing] = {}
        registry.register(self)

    def labels(self, *values: str) -> Timing:
        found = self._children.get(values)
        if found is None:
            found = self._children[values] = Timing()
        return found

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        for values, timing in self._children.items():
            family.add_metric(list(values), timing.buckets(), timing.total)
        yield family


class HttpMetrics:
    """The request counter and latency histogram of one service; paths outside ``paths`` are
    counted as "other", so probes of random URLs cannot grow the label set."""

    def __init__(self, service: str, paths: frozenset[str]) -> None:
        self.service = service
        self.paths = paths
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vetrai_http_requests",
            "HTTP requests served",
            ["service", "path", "status"],
            registry=self.registry,
        )
        self.latency = Timings(
            "vetrai_http_request_seconds",
            "HTTP request latency",
            ["service", "path"],
            self.registry,
        )
        # the labelled children, looked up once: labels() costs more than the count itself
        self._served: dict[tuple[str, int], tuple[Counter, Timing]] = {}

    def served(self, path: str, status: int, seconds: float) -> None:
        label = path if path in self.paths else "other"
        counted = self._served.get((label, status))
        if counted is None:
            counted = self._served[(label, status)] = (
                self.requests.labels(self.service, label, str(status)),
                self.latency.labels(self.service, label),
            )
        counted[0].inc()
        counted[1].observe(seconds)

    async def endpoint(self, _: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class Observe:
    """ASGI middleware around a whole app."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        rid = given if _REQUEST_ID.match(given) else secrets.token_hex(16)
        token = request_id.set(rid)
        fields: dict[str, object] = {}
        fields_token = request_fields.set(fields)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        name = f"{self.metrics.service} {scope['method']}"
        # what start_as_current_span does, without its two generator-based layers; a span
        # that records nothing is made current only to carry a caller's trace to the next hop
        span = tracer.start_span(name, context=incoming(headers), kind=SpanKind.SERVER)
        carried = span.is_recording() or span.get_span_context().is_valid
        with use_span(span, end_on_exit=True) if carried else _UNTRACED:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if span.is_recording():
                    span.update_name(f"{name} {route_path(scope)}")
                self._done(scope, status, time.perf_counter() - started, fields)
                request_fields.reset(fields_token)
                request_id.reset(token)

    def _done(self, scope: Scope, status: int, elapsed: float, fields: dict[str, object]) -> None:
        self.metrics.served(scope["path"], status, elapsed)
        if not log.isEnabledFor(logging.INFO):
            return
        line: dict[str, object] = {
            "service": self.metrics.service,
            "method": scope["method"],
            "path": route_path(scope),
            **fields,
            "status": status,
            "ms": round(elapsed * 1000, 2),
        }
        log.info("request", extra={"fields": line})
