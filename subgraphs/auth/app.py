"""The auth subgraph (port 8001): its schema, migrations and ASGI app, plus the JWKS route."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from subgraphs.auth.schema import schema
from subgraphs.auth.service import AuthService
from subgraphs.auth.settings import Settings
from subgraphs.auth.signing import TokenSigner, keys_path
from subgraphs.kernel.app import Runtime, create_subgraph_app
from subgraphs.kernel.migrations import MigrationSet

MIGRATIONS = MigrationSet("auth", Path(__file__).parent / "migrations")

__all__ = ["MIGRATIONS", "create_app", "schema"]


def create_app(settings: Settings) -> Starlette:
    signer = TokenSigner(
        keys_path(settings), issuer=settings.core.jwt_issuer, audience=settings.core.jwt_audience
    )

    def services(runtime: Runtime) -> AuthService:
        return AuthService(runtime.db, runtime.redis, settings, signer)

    async def jwks(_: Request) -> JSONResponse:
        return JSONResponse(signer.jwks(), headers={"cache-control": "public, max-age=300"})

    return create_subgraph_app(
        "auth", schema, settings.core, services, routes=[Route("/.well-known/jwks.json", jwks)]
    )
