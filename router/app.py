"""The platform's router process: the federation edge plus identity from the platform's auth."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from router import graphiql
from router.edge import create_app
from router.identity import Authenticate, Authenticator, context_headers
from router.supergraph import Supergraph
from subgraphs.kernel.context import context_key
from subgraphs.kernel.settings import Settings, SettingsError


def jwks_url(settings: Settings, urls: Mapping[str, str]) -> str:
    """``JWKS_URL``, else the auth subgraph's published keys next to its GraphQL endpoint."""
    if settings.jwks_url:
        return settings.jwks_url
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


def create_router(
    settings: Settings, supergraph_sdl: str, subgraph_urls: Mapping[str, str] | None = None
) -> Starlette:
    overrides = {**settings.router_subgraph_urls, **(subgraph_urls or {})}
    urls = {name: s.url for name, s in Supergraph(supergraph_sdl).subgraphs.items()} | overrides
    app = create_app(
        supergraph_sdl,
        subgraph_urls=urls,
        subgraph_headers=context_headers(context_key(settings), settings.context_ttl_seconds),
        expose_plans=settings.environment != "production",
    )
    authenticator = Authenticator(
        jwks_url(settings, urls), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.add_middleware(Authenticate, authenticator=authenticator)
    app.add_middleware(_GraphiQL)
    app.mount("/graphiql", StaticFiles(directory=graphiql.ASSETS, check_dir=False))
    return app
