"""The platform's router process: the federation edge plus identity from the platform's auth."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse
from starlette.routing import WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from core.caller_context import context_key
from core.observe import Observe
from core.settings import SettingsError
from router import graphiql
from router.apq import PersistedQueryStore
from router.config import RouterConfig
from router.edge import create_app
from router.gate import Gate
from router.identity import Authenticator, Endpoints, context_headers
from router.ratelimit import RateLimiter
from router.settings import Settings
from router.subscriptions import Subscriptions
from router.supergraph import Supergraph
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
    )


def create_router(
    settings: Settings,
    supergraph_sdl: str,
    subgraph_urls: Mapping[str, str] | None = None,
    config: RouterConfig | None = None,
) -> Starlette:
    """The router with identity, limits and protection in front of the federation edge."""
    config = config or RouterConfig()
    if not settings.core.redis_url:
        raise SettingsError("REDIS_URL: the router keeps rate limits and persisted queries there")
    overrides = {
        **settings.router.router_subgraph_urls,
        **config.subgraph_urls,
        **(subgraph_urls or {}),
    }
    urls = {name: s.url for name, s in Supergraph(supergraph_sdl).subgraphs.items()} | overrides
    production = settings.core.environment == "production"
    metrics = Metrics()
    key = context_key(settings.core)
    sign = context_headers(key, settings.core.context_ttl_seconds)

    app = create_app(
        supergraph_sdl,
        subgraph_urls=urls,
        subgraph_headers=sign,
        observe_fetch=metrics.fetched,
        expose_plans=not production,
        subgraph_timeout=config.subgraph_timeout_seconds,
    )
    metrics.watch_caches(app.state.router)
    redis = Redis.from_url(settings.core.redis_url)
    authenticator = Authenticator(
        _endpoints(settings, urls),
        issuer=settings.core.jwt_issuer,
        audience=settings.core.jwt_audience,
        key=key,
        redis=redis,
    )
    subscriptions = Subscriptions(
        app.state.router,
        urls,
        sign,
        authenticator,
        per_connection=config.subscriptions.per_connection,
        connections_per_caller=config.subscriptions.connections_per_caller,
    )
    app.router.routes.append(WebSocketRoute("/graphql", subscriptions.websocket))
    app.add_middleware(
        Gate,
        router=app.state.router,
        config=config,
        authenticator=authenticator,
        limiter=RateLimiter(redis, config.rate_limits.namespace),
        persisted=PersistedQueryStore(redis, config.persisted_queries),
        introspection=_enabled(config.protection.introspection, production),
        metrics=metrics,
        subscriptions=subscriptions,
    )
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
    app.add_route("/metrics", metrics.endpoint, methods=["GET"])
    app.add_middleware(Observe, metrics=metrics)
    return app


def _enabled(setting: bool | None, production: bool) -> bool:
    """On in development and off in production, unless the configuration says otherwise."""
    return (not production) if setting is None else setting
