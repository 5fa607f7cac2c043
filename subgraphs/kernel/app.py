"""The subgraph app factory: a Strawberry federation schema -> an ASGI app.

Every subgraph serves ``/graphql`` (identity only from the router's signed caller context; over
HTTP, and over WebSocket with graphql-transport-ws for subscriptions, the context then coming
from the upgrade request's header or the ``connection_init`` payload under the same name),
``/health`` (checks PostgreSQL and Redis) and ``/metrics`` (Prometheus), and logs one JSON line
per request with its request id.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.federation import Schema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from core.caller import ANONYMOUS, Caller
from core.caller_context import HEADER, InvalidContext, context_key, verify_caller
from core.observe import HttpMetrics, Observe
from core.settings import CoreSettings, SettingsError
from subgraphs.kernel.db import Database
from subgraphs.kernel.outbox import Relay

log = logging.getLogger("vetrai.subgraph")
S = TypeVar("S")


@dataclass
class Runtime:
    """What a subgraph process holds for its whole life."""

    name: str
    settings: CoreSettings
    db: Database
    redis: Redis
    context_key: bytes


@dataclass
class RequestContext(Generic[S]):
    """What a resolver receives as ``info.context``; one per request."""

    caller: Caller
    services: S
    request: Request | WebSocket
    response: Response | None
    loaders: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, object] | None = None


class _SubgraphGraphQL(GraphQL[RequestContext[Any], None]):
    def __init__(self, schema: Schema, runtime: Runtime, services: Callable[[], object]) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self._runtime = runtime
        self._services = services

    async def get_context(self, request: Any, response: Any) -> RequestContext[Any]:
        caller = request.scope.get("state", {}).get("caller", ANONYMOUS)
        return RequestContext(
            caller=caller, services=self._services(), request=request, response=response
        )

    async def on_ws_connect(self, context: RequestContext[Any]) -> None:
        """One verified context serves the whole connection; a bad one closes it (4403)."""
        header = context.request.headers.get(HEADER) or (context.connection_params or {}).get(
            HEADER
        )
        if header is None:
            return
        try:
            context.caller = await verify_caller(
                str(header),
                audience=self._runtime.name,
                key=self._runtime.context_key,
                redis=self._runtime.redis,
            )
        except InvalidContext:
            raise ConnectionRejectionError from None


class _Authenticate:
    """Accept identity only from a valid signed context; without one the caller is anonymous."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = Request(scope).headers.get(HEADER)
        if header is not None:
            try:
                caller = await verify_caller(
                    header,
                    audience=self.runtime.name,
                    key=self.runtime.context_key,
                    redis=self.runtime.redis,
                )
            except InvalidContext as exc:
                body = {
                    "errors": [{"message": str(exc), "extensions": {"code": "UNAUTHENTICATED"}}]
                }
                await JSONResponse(body, status_code=401)(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = caller
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            # The caller left before its request was read (the router cancelled the fetch of
            # an ended subscription or request): nobody is left to answer.
            log.info("caller disconnected", extra={"fields": {"path": scope.get("path")}})


def create_subgraph_app(
    name: str,
    schema: Schema,
    settings: CoreSettings,
    build_services: Callable[[Runtime], S],
    routes: Sequence[BaseRoute] = (),
    pool_size: int = 5,
) -> Starlette:
    """The ASGI app of subgraph ``name``; ``settings`` must carry resolved database/Redis URLs.
    ``pool_size`` connections are kept open: more requests at once open (and close) more."""
    if not settings.redis_url:
        raise SettingsError("REDIS_URL: not set")
    runtime = Runtime(
        name=name,
        settings=settings,
        db=Database(settings.login_url(name), pool_size=pool_size),
        redis=Redis.from_url(settings.redis_url),
        context_key=context_key(settings),
    )
    runtime.db.after_commit = Relay(runtime.db, runtime.redis, settings.queue_name).after_commit
    services = build_services(runtime)
    graphql_app = _SubgraphGraphQL(schema, runtime, lambda: services)
    paths = frozenset(
        {"/graphql", "/health", "/metrics", *(getattr(r, "path", "") for r in routes)}
    )
    metrics = HttpMetrics(name, paths)

    async def health(_: Request) -> Response:
        try:
            await runtime.db.ping()
            await runtime.redis.ping()
        except Exception as exc:  # any failure of a dependency means unhealthy
            log.warning("health check failed", extra={"fields": {"error": repr(exc)}})
            return JSONResponse({"status": "unavailable", "service": name}, status_code=503)
        return JSONResponse({"status": "ok", "service": name})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await runtime.db.close()
        await runtime.redis.aclose()

    app = Starlette(
        routes=[
            Route("/graphql", _Authenticate(graphql_app, runtime), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            Route("/health", health),
            Route("/metrics", metrics.endpoint),
            *routes,
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Extra routes serve with the resolvers' services: ``request.app.state.services``.
    app.state.services = services
    app.add_middleware(Observe, metrics=metrics)
    return app
