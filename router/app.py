"""The platform's router process: the federation edge plus identity from the platform's auth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from core.caller_context import context_key
from core.observe import Observe
from core.settings import SettingsError
from router import graphiql, reload
from router.apq import PersistedQueryStore
from router.assets import PublicAssets
from router.config import RouterConfig
from router.edge import relax_cycle_collector
from router.gate import HttpTransport
from router.identity import Authenticator, Endpoints, context_signer
from router.pipeline.runtime import Runtime, Served
from router.pipeline.stages import Pipeline
from router.ratelimit import RateLimiter
from router.settings import Settings
from router.subscriptions import Subscriptions
from router.telemetry import Metrics
from subgraphs.keys.contract import VERIFY_PATH


def jwks_url(settings: Settings, urls: Mapping[str, str]) -> str:
    """``JWKS_URL``, else the auth subgraph's published keys next to its GraphQL endpoint."""
    if settings.router.jwks_url:
        return settings.router.jwks_url
    if "auth" not in urls:
        raise SettingsError("JWKS_URL: not set and the supergraph has no auth subgraph")
    parts = urlsplit(urls["auth"])
    return urlunsplit((parts.scheme, parts.netloc, "/.well-known/jwks.json", "", ""))


class _GraphiQL:
    """Browsers asking for ``/graphql`` as a page get GraphiQL; everyone else gets GraphQL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.page = HTMLResponse(graphiql.page())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == "/graphql"
            and b"query=" not in scope["query_string"]
            and "text/html" in Headers(scope=scope).get("accept", "")
        ):
            await self.page(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _endpoints(settings: Settings, urls: Mapping[str, str]) -> Endpoints:
    def beside(service: str, path: str) -> str:
        parts = urlsplit(urls.get(service, ""))
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    return Endpoints(
        jwks=jwks_url(settings, urls),
        keys=beside("keys", VERIFY_PATH),
        tenancy=urls.get("tenancy", ""),
        billing=urls.get("billing", ""),
    )


def create_router(
    settings: Settings,
    supergraph_sdl: str,
    subgraph_urls: Mapping[str, str] | None = None,
    config: RouterConfig | None = None,
    *,
    watch: Path | None = None,
    watch_interval: float = 1.0,
) -> Starlette:
    """The router with identity, limits and protection in front of the federation engine.
    With ``watch``, a changed supergraph file is served without a restart."""
    config = config or RouterConfig()
    if not settings.core.redis_url:
        raise SettingsError("REDIS_URL: the router keeps rate limits and persisted queries there")
    overrides = {
        **settings.router.router_subgraph_urls,
        **config.subgraph_urls,
        **(subgraph_urls or {}),
    }
    production = settings.core.environment == "production"
    metrics = Metrics()

    def served(sdl: str) -> Served:
        return Served(
            sdl, overrides, timeout=config.subgraph_timeout_seconds, observe=metrics.fetched
        )

    runtime = Runtime(served, supergraph_sdl)
    metrics.watch_caches(lambda: runtime.served.engine)
    key = context_key(settings.core)
    redis = Redis.from_url(settings.core.redis_url)
    authenticator = Authenticator(
        _endpoints(settings, runtime.served.urls),
        issuer=settings.core.jwt_issuer,
        audience=settings.core.jwt_audience,
        key=key,
        redis=redis,
    )
    limiter = RateLimiter(redis, config.rate_limits.namespace)
    pipeline = Pipeline(
        config=config,
        authenticator=authenticator,
        limiter=limiter,
        persisted=PersistedQueryStore(redis, config.persisted_queries),
        metrics=metrics,
        sign=context_signer(key, settings.core.context_ttl_seconds),
        introspection=_enabled(config.protection.introspection, production),
    )
    subscriptions = Subscriptions(
        runtime,
        pipeline,
        per_connection=config.subscriptions.per_connection,
        connections_per_caller=config.subscriptions.connections_per_caller,
    )
    http = HttpTransport(
        runtime,
        pipeline,
        subscriptions,
        csrf=config.protection.csrf,
        development=settings.core.environment == "development",
        expose_plans=not production,
    )

    assets = PublicAssets(
        config.public_assets,
        lambda: runtime.served.urls,
        config.subgraph_timeout_seconds,
        forms=config.public_forms,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        relax_cycle_collector()
        watcher = (
            asyncio.create_task(reload.watch(watch, runtime.swap, watch_interval))
            if watch is not None
            else None
        )
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await authenticator.aclose()
            await assets.aclose()
            await limiter.aclose()
            await redis.aclose()
            await runtime.aclose()

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app = Starlette(
        routes=[
            Route("/graphql", http, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", subscriptions.websocket),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Route(
                "/assets/{subgraph}/{path:path}", assets.endpoint, methods=["GET", "HEAD", "POST"]
            ),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.pipeline = pipeline
    if _enabled(config.protection.graphiql, production):
        app.add_middleware(_GraphiQL)
        app.mount("/graphiql", StaticFiles(directory=graphiql.ASSETS, check_dir=False))
    if config.protection.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.protection.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.add_middleware(Observe, metrics=metrics)
    return app


def _enabled(setting: bool | None, production: bool) -> bool:
    """On in development and off in production, unless the configuration says otherwise."""
    return (not production) if setting is None else setting
