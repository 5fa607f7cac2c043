"""What the router tells operators: Prometheus metrics (named like the subgraphs' so one
dashboard reads both) and one JSON log line per operation, with its request id."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from prometheus_client import (
    Counter,
    Histogram,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from core.caller import Caller
from core.observe import HttpMetrics
from router.documents import DocumentCache
from router.edge import Router
from router.planner.planner import QueryPlanner

log = logging.getLogger("vetrai.router")
MAX_NAMES = 200
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")


class _CacheCollector(Collector):
    def __init__(self, router: Router) -> None:
        self.caches: dict[str, DocumentCache | QueryPlanner] = {
            "documents": router.documents,
            "plans": router.planner,
        }

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "vetrai_router_cache_lookups",
            "Cache lookups by cache and result",
            labels=["cache", "result"],
        )
        for name, cache in self.caches.items():
            family.add_metric([name, "hit"], cache.hits)
            family.add_metric([name, "miss"], cache.misses)
        yield family


def _outcome(status: int, body: bytes) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "failed"
    if status >= 400:
        return "refused"
    return "errors" if b'"errors"' in body else "ok"


class Metrics(HttpMetrics):
    """The router's Prometheus metrics, named like the subgraphs' so one dashboard reads both."""

    PATHS = frozenset({"/graphql", "/health", "/metrics"})

    def __init__(self) -> None:
        super().__init__("router", self.PATHS)
        self.rate_limited = Counter(
            "vetrai_router_rate_limited",
            "Requests refused by a rate limit",
            registry=self.registry,
        )
        self.fetches = Counter(
            "vetrai_router_subgraph_fetches",
            "Requests the router sent to each subgraph",
            ["subgraph"],
            registry=self.registry,
        )

        self.operations = Counter(
            "vetrai_router_operations",
            "GraphQL operations by name and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.operation_latency = Histogram(
            "vetrai_router_operation_seconds",
            "GraphQL operation latency at the router",
            ["outcome"],
            registry=self.registry,
        )
        self.fetch_latency = Histogram(
            "vetrai_router_subgraph_fetch_seconds",
            "Latency of the router's requests to each subgraph",
            ["subgraph"],
            registry=self.registry,
        )
        self.fetch_errors = Counter(
            "vetrai_router_subgraph_fetch_errors",
            "Subgraph requests that brought no GraphQL answer, by code",
            ["subgraph", "code"],
            registry=self.registry,
        )
        self._names: set[str] = set()

    def fetched(self, service: str, seconds: float, error: str | None) -> None:
        self.fetches.labels(service).inc()
        self.fetch_latency.labels(service).observe(seconds)
        if error is not None:
            self.fetch_errors.labels(service, error).inc()

    def watch_caches(self, router: Router) -> None:
        """Export the hits and misses of the router's document and plan caches at scrape time."""
        self.registry.register(_CacheCollector(router))

    def _label(self, name: object) -> str:
        """Client-chosen names, bounded: at most MAX_NAMES distinct labels, then "other"."""
        if not isinstance(name, str) or not _NAME.match(name):
            return "anonymous" if name is None else "other"
        if name not in self._names and len(self._names) >= MAX_NAMES:
            return "other"
        self._names.add(name)
        return name

    def operation(
        self, name: object, caller: Caller, status: int, body: bytes, seconds: float
    ) -> None:
        outcome = _outcome(status, body)
        self.operations.labels(self._label(name), outcome).inc()
        self.operation_latency.labels(outcome).observe(seconds)
        who = caller.user_id or caller.key_id or caller.client_ip
        fields = {
            "operation": name if isinstance(name, str) else None,
            "caller": str(who) if who else None,
            "organization": str(caller.org_id) if caller.org_id else None,
            "status": status,
            "outcome": outcome,
            "ms": round(seconds * 1000, 2),
        }
        log.info("operation", extra={"fields": fields})
