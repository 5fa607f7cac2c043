"""The auth subgraph (port 8001): its schema, services, migrations, jobs, and the JWKS route."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from subgraphs.auth.schema import schema
from subgraphs.auth.service import AuthService
from subgraphs.auth.settings import Settings
from subgraphs.auth.signing import TokenSigner, keys_path
from subgraphs.auth.tasks import JOBS
from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet


def services(runtime: Runtime, settings: Settings) -> AuthService:
    signer = TokenSigner(
        keys_path(settings), issuer=settings.core.jwt_issuer, audience=settings.core.jwt_audience
    )
    return AuthService(runtime.db, runtime.redis, settings, signer)


async def jwks(request: Request) -> JSONResponse:
    service: AuthService = request.app.state.services
    return JSONResponse(service.signer.jwks(), headers={"cache-control": "public, max-age=300"})


DOMAIN = Domain(
    name="auth",
    port=8001,
    schema=schema,
    services=services,
    migrations=MigrationSet("auth", Path(__file__).parent / "migrations"),
    routes=[Route("/.well-known/jwks.json", jwks)],
    jobs=JOBS,
)
