"""The router's HTTP edge: GraphQL over POST and GET, `@defer` in multipart parts, health, and
optional plan exposure. Its multipart writer is the one `vetrai router` uses too."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, OperationType
from graphql.execution.values import get_variable_values
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from router.documents import DocumentCache
from router.executor.client import FetchObserver, SubgraphClient
from router.executor.execute import Executor
from router.planner.errors import PlanningError
from router.planner.plan import plan_to_json
from router.planner.planner import PlannedOperation, QueryPlanner, select_operation
from router.supergraph import Supergraph

SubgraphHeaders = Callable[[str, Request], Mapping[str, str]]
Answer = tuple[int, bytes]
JSON = "application/json"
JSON_BYTES = JSON.encode("ascii")
EXPOSE_PLAN_HEADER = "apollo-expose-query-plan"
DEFER_MULTIPART = b'multipart/mixed; boundary="graphql"; deferSpec=20220824'
MULTIPART_END = b"\r\n--graphql--\r\n"
logger = logging.getLogger(__name__)
_PERCENT = re.compile(r"^percent\((\d+(?:\.\d+)?)\)$")


class BadRequestError(Exception):
    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Parts:
    """An answer in `@defer` payloads: the first one, and the rest as they come."""

    first: dict[str, Any]
    rest: AsyncGenerator[dict[str, Any], None]


class Router:
    """One supergraph served: its planner, executor and caches."""

    def __init__(
        self,
        supergraph: Supergraph,
        client: SubgraphClient,
        subgraph_headers: SubgraphHeaders | None,
        expose_plans: bool,
        override_roll: Callable[[], float],
    ) -> None:
        self.supergraph = supergraph
        self.documents = DocumentCache(supergraph.api_schema)
        self.planner = QueryPlanner(supergraph)
        self.executor = Executor(supergraph, client)
        self.subgraph_headers = subgraph_headers
        self.expose_plans = expose_plans
        self.override_roll = override_roll
        self.label_percentages = _percentages(supergraph.override_labels)

    async def graphql(self, request: Request) -> Answer | Parts:
        """The status and JSON body answering one GraphQL request over HTTP, or its `@defer`
        payloads for a client that accepts them."""
        try:
            params = await _params(request)
            return await self._run(request, params)
        except BadRequestError as error:
            return _error(str(error), error.code, error.status)
        except PlanningError as error:
            logger.warning("query planning failed: %s", error)
            return _error(str(error), "QUERY_PLANNING_FAILED", 500)
        except Exception:
            logger.exception("unexpected router failure")
            return _error("Internal server error", "INTERNAL_SERVER_ERROR", 500)

    async def _run(self, request: Request, params: dict[str, Any]) -> Answer | Parts:
        source = params.get("query")
        if not isinstance(source, str) or not source:
            raise BadRequestError("Must provide query string.")
        checked = self.documents.get(source)
        if checked.document is None:
            return _json({"errors": list(checked.errors)}, 400)
        operation_name = params.get("operationName")
        try:
            operation = select_operation(checked.document, operation_name)
        except PlanningError as error:
            raise BadRequestError(str(error), code="GRAPHQL_VALIDATION_FAILED") from error
        if operation.operation == OperationType.SUBSCRIPTION:
            raise BadRequestError("Subscriptions are not served over this transport.")
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            raise BadRequestError("GET requests may only run queries.", 405, "METHOD_NOT_ALLOWED")
        variables = self._variables(operation, params.get("variables"))
        planned = self.planner.plan_for(
            source, checked.document, operation_name, self.enabled_labels()
        )

        def headers_for(service: str) -> Mapping[str, str]:
            return self._headers(service, request)

        if (
            planned.deferred
            and request.method == "POST"
            and accepts_deferred(request.headers.get("accept", ""))
        ):
            rest = self.executor.stream(planned, variables, headers_for)
            first = await anext(rest)
            self._expose(first, planned, request)
            return Parts(first, rest)
        result = await self.executor.execute(planned, variables, headers_for)
        self._expose(result, planned, request)
        return _json(result, 200)

    def _expose(self, result: dict[str, Any], planned: PlannedOperation, request: Request) -> None:
        if self.expose_plans and request.headers.get(EXPOSE_PLAN_HEADER) == "true":
            result["extensions"] = {"apolloQueryPlan": {"object": plan_to_json(planned.plan)}}

    def _variables(self, operation: Any, raw: Any) -> dict[str, Any]:
        if raw is not None and not isinstance(raw, dict):
            raise BadRequestError("Variables must be an object.")
        coerced = get_variable_values(
            self.supergraph.api_schema, operation.variable_definitions or (), raw or {}
        )
        if isinstance(coerced, list):
            raise BadRequestError(_first_message(coerced), code="BAD_USER_INPUT")
        return coerced.coerced

    def enabled_labels(self) -> frozenset[str]:
        return frozenset(
            label
            for label, percentage in self.label_percentages.items()
            if self.override_roll() * 100 < percentage
        )

    def _headers(self, service: str, request: Request) -> Mapping[str, str]:
        if self.subgraph_headers is None:
            return {}
        return self.subgraph_headers(service, request)


def create_app(
    supergraph_sdl: str,
    *,
    subgraph_urls: Mapping[str, str] | None = None,
    subgraph_headers: SubgraphHeaders | None = None,
    expose_plans: bool = False,
    subgraph_timeout: float = 30.0,
    override_roll: Callable[[], float] = random.random,
    observe_fetch: FetchObserver | None = None,
) -> Starlette:
    """The router for one supergraph. `subgraph_urls` overrides `@join__graph(url:)` by
    subgraph name; `subgraph_headers(service, request)` adds headers to every subgraph request;
    `override_roll` draws the [0, 1) numbers that decide progressive @override labels;
    `observe_fetch` is told of every subgraph request (for metrics)."""
    supergraph = Supergraph(supergraph_sdl)
    urls = {name: s.url for name, s in supergraph.subgraphs.items()}
    urls.update(subgraph_urls or {})
    client = SubgraphClient(urls, timeout=subgraph_timeout, observe=observe_fetch)
    router = Router(supergraph, client, subgraph_headers, expose_plans, override_roll)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        relax_cycle_collector()
        yield
        await client.aclose()

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    app = Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(router), methods=["GET", "POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.router = router
    return app


class GraphQLEndpoint:
    """`/graphql` as a bare ASGI app: Starlette's request body and response objects cost more
    than running a cached plan against one subgraph."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self.router.graphql(Request(scope, receive))
        if isinstance(answer, Parts):
            await send_parts(send, receive, answer.first, answer.rest, ())
            return
        status, body = answer
        length = str(len(body)).encode("ascii")
        headers = [(b"content-type", JSON_BYTES), (b"content-length", length)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def accepts_deferred(accept: str) -> bool:
    """Whether the client takes `@defer` payloads: `multipart/mixed` with the spec Apollo
    Client and Router use (`deferSpec=20220824`)."""
    for media_range in accept.split(","):
        kind, *parameters = (p.strip().lower() for p in media_range.split(";"))
        if kind == "multipart/mixed" and "deferspec=20220824" in [
            p.replace(" ", "").replace('"', "") for p in parameters
        ]:
            return True
    return False


def multipart_part(body: dict[str, Any]) -> bytes:
    """One JSON part of a `multipart/mixed; boundary="graphql"` response (`@defer` payloads,
    subscription events)."""
    return b"\r\n--graphql\r\ncontent-type: application/json\r\n\r\n" + orjson.dumps(body)


async def send_parts(
    send: Send,
    receive: Receive,
    first: dict[str, Any],
    rest: AsyncGenerator[dict[str, Any], None],
    headers: Iterable[tuple[bytes, bytes]],
) -> None:
    """An operation's `@defer` payloads, one part each as they come, as Apollo Router sends
    them (`deferSpec=20220824`). Should the client go away first, the fetches under way for
    the later payloads are cancelled and no more start."""
    start = [(b"content-type", DEFER_MULTIPART), *headers]
    await send({"type": "http.response.start", "status": 200, "headers": start})
    writing = asyncio.ensure_future(_write_parts(send, first, rest))
    gone = asyncio.ensure_future(disconnected(receive))
    try:
        await asyncio.wait((writing, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        writing.cancel()
        gone.cancel()
        await asyncio.gather(writing, gone, return_exceptions=True)
        await rest.aclose()
    if not writing.cancelled():
        writing.result()


async def _write_parts(
    send: Send, first: dict[str, Any], rest: AsyncGenerator[dict[str, Any], None]
) -> None:
    # Each part as soon as it is known: the first one is not held back for the next.
    await send({"type": "http.response.body", "body": multipart_part(first), "more_body": True})
    async for payload in rest:
        body = multipart_part(payload)
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": MULTIPART_END})


async def disconnected(receive: Receive) -> None:
    """Returns once the client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass


def relax_cycle_collector() -> None:
    """Responses are trees of dicts and lists, freed by reference counting once sent. With many
    large ones in flight, the cycle collector's default thresholds make it scan them over and
    over: a quarter of the router's CPU on a 90 KB response at 50 connections. Objects that
    live as long as the process (schemas, parsed supergraph) are moved out of its scans, and it
    runs after 100 000 net allocations instead of 700."""
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 100_000), max(middle, 50), max(old, 100))


async def _params(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        query = request.query_params
        params: dict[str, Any] = {
            "query": query.get("query"),
            "operationName": query.get("operationName"),
        }
        if query.get("variables"):
            params["variables"] = _loads(query["variables"])
        return params
    params_ = _loads(await _body(request.receive))
    if not isinstance(params_, dict):
        raise BadRequestError("The request body must be a JSON object.")
    return params_


async def _body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    while message.get("more_body", False):
        message = await receive()
        body += message.get("body", b"")
    return body


def _loads(raw: str | bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequestError("The request is not valid JSON.") from error


def _percentages(labels: frozenset[str]) -> dict[str, float]:
    found = {label: _PERCENT.match(label) for label in labels}
    return {label: float(match.group(1)) for label, match in found.items() if match}


def _first_message(errors: list[GraphQLError]) -> str:
    return errors[0].message if errors else "Invalid variables."


def _error(message: str, code: str, status: int) -> Answer:
    return _json({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


def _json(body: dict[str, Any], status: int) -> Answer:
    return status, orjson.dumps(body)
