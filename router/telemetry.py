"""What the router tells operators: Prometheus metrics (named like the subgraphs' so one
dashboard reads both) and the operation in the request's JSON log line (a line of its own over
WebSocket), with its request id."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from core.caller import Caller
from core.observe import HttpMetrics, Timing, Timings, request_fields
from router.documents import DocumentCache
from router.edge import Router
from router.planner.planner import QueryPlanner

log = logging.getLogger("vetrai.router")
MAX_NAMES = 200
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")


class _CacheCollector(Collector):
    def __init__(self, engine: Callable[[], Router]) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "vetrai_router_cache_lookups",
            "Cache lookups by cache and result",
            labels=["cache", "result"],
        )
        engine = self.engine()
        caches: dict[str, DocumentCache | QueryPlanner] = {
            "documents": engine.documents,
            "plans": engine.planner,
        }
        for name, cache in caches.items():
            family.add_metric([name, "hit"], cache.hits)
            family.add_metric([name, "miss"], cache.misses)
        yield family


class Outcome(StrEnum):
    OK = "ok"
    ERRORS = "errors"  # answered, with GraphQL errors (a subgraph failed, a field errored)
    REFUSED = "refused"  # a stage refused it before any subgraph was called


def outcome_of(result: Mapping[str, Any]) -> Outcome:
    return Outcome.ERRORS if result.get("errors") else Outcome.OK


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
        self.operation_latency = Timings(
            "vetrai_router_operation_seconds",
            "GraphQL operation latency at the router",
            ["outcome"],
            self.registry,
        )
        self.fetch_latency = Timings(
            "vetrai_router_subgraph_fetch_seconds",
            "Latency of the router's requests to each subgraph",
            ["subgraph"],
            self.registry,
        )
        self.fetch_errors = Counter(
            "vetrai_router_subgraph_fetch_errors",
            "Subgraph requests that brought no GraphQL answer, by code",
            ["subgraph", "code"],
            registry=self.registry,
        )
        self.stage_latency = Timings(
            "vetrai_router_stage_seconds",
            "Time spent in each stage of the router's request pipeline",
            ["stage"],
            self.registry,
        )
        self._stages: dict[str, Timing] = {}
        # the labelled children, looked up once: labels() costs more than the count itself
        self._counted: dict[tuple[str, Outcome], tuple[Counter, Timing]] = {}
        self._fetched: dict[str, tuple[Counter, Timing]] = {}
        self._names: set[str] = set()

    def fetched(self, service: str, seconds: float, error: str | None) -> None:
        counted = self._fetched.get(service)
        if counted is None:
            counted = self._fetched[service] = (
                self.fetches.labels(service),
                self.fetch_latency.labels(service),
            )
        counted[0].inc()
        counted[1].observe(seconds)
        if error is not None:
            self.fetch_errors.labels(service, error).inc()

    def watch_caches(self, engine: Callable[[], Router]) -> None:
        """Export the hits and misses of the served engine's document and plan caches at
        scrape time."""
        self.registry.register(_CacheCollector(engine))

    def stage(self, name: str, seconds: float) -> None:
        found = self._stages.get(name)
        if found is None:
            found = self._stages[name] = self.stage_latency.labels(name)
        found.observe(seconds)

    def _label(self, name: object) -> str:
        """Client-chosen names, bounded: at most MAX_NAMES distinct labels, then "other"."""
        if isinstance(name, str) and name in self._names:
            return name
        if not isinstance(name, str) or not _NAME.match(name):
            return "anonymous" if name is None else "other"
        if name not in self._names and len(self._names) >= MAX_NAMES:
            return "other"
        self._names.add(name)
        return name

    def operation(
        self,
        name: str | None,
        caller: Caller,
        outcome: Outcome,
        seconds: float,
        *,
        status: int,
        fetches: int,
    ) -> None:
        label = self._label(name)
        counted = self._counted.get((label, outcome))
        if counted is None:
            counted = self._counted[(label, outcome)] = (
                self.operations.labels(label, outcome),
                self.operation_latency.labels(outcome),
            )
        counted[0].inc()
        counted[1].observe(seconds)
        if not log.isEnabledFor(logging.INFO):
            return
        who = caller.user_id or caller.key_id or caller.client_ip
        fields: dict[str, object] = {
            "operation": name,
            "caller": str(who) if who else None,
            "organization": str(caller.org_id) if caller.org_id else None,
            "outcome": str(outcome),
            "fetches": fetches,
        }
        line = request_fields.get()
        if line is not None and "operation" not in line:  # a batch's others get lines of their own
            line.update(fields)  # an HTTP request's one line carries its operation
            return
        fields |= {"status": status, "ms": round(seconds * 1000, 2)}
        log.info("operation", extra={"fields": fields})
