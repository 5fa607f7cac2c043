"""The keys subgraph (port 8003): its schema, services, migrations and jobs, plus the router's
internal route that verifies a presented API key secret.

The router calls ``POST /internal/verify`` with ``{"secret": "vetrai_..."}`` and a caller context
signed for audience ``keys`` holding the scope ``internal:verify``. Answers: 200 with the key's
``key_id, org_id, scopes, created_by, rate_limit {limit, window_seconds}, expires_at`` (the
moment this secret stops working, or null: cache no longer than that), 404 when no valid key has
the secret, 401 without a valid context, 400 for a malformed body. Revocations and rotations
are published on ``subgraphs.keys.contract.CHANGED_CHANNEL``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.caller_context import HEADER, InvalidContext, verify_caller
from core.scopes import INTERNAL_VERIFY
from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.keys.contract import VERIFY_PATH
from subgraphs.keys.schema import schema
from subgraphs.keys.service import KeysService, VerifiedKey
from subgraphs.keys.settings import Settings
from subgraphs.keys.tasks import JOBS

_MAX_BODY = 4096


def _problem(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _verified(key: VerifiedKey) -> Response:
    body = {
        "key_id": str(key.key_id),
        "org_id": str(key.org_id),
        "scopes": key.scopes,
        "created_by": str(key.created_by),
        "rate_limit": {
            "limit": key.rate_limit.limit,
            "window_seconds": key.rate_limit.window_seconds,
        },
        "expires_at": key.valid_until.isoformat() if key.valid_until else None,
    }
    return JSONResponse(body, headers={"cache-control": "no-store"})


async def _router_may_verify(request: Request, runtime: Runtime) -> bool:
    header = request.headers.get(HEADER)
    if header is None:
        return False
    try:
        caller = await verify_caller(
            header, audience=runtime.name, key=runtime.context_key, redis=runtime.redis
        )
    except InvalidContext:
        return False
    return INTERNAL_VERIFY in caller.scopes


async def _presented_secret(request: Request) -> str | None:
    body = await request.body()
    if len(body) > _MAX_BODY:
        return None
    try:
        secret = orjson.loads(body).get("secret")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return secret if isinstance(secret, str) else None


async def verify(request: Request) -> Response:
    """``POST {"secret": "vetrai_..."}`` from the router -> the key's identity and limits.

    Never logs the secret: the request log line holds only method, path and status.
    """
    runtime: Runtime = request.app.state.runtime
    if not await _router_may_verify(request, runtime):
        return _problem(401, "UNAUTHENTICATED", "A router context with internal:verify is needed.")
    secret = await _presented_secret(request)
    if secret is None:
        return _problem(400, "INVALID_INPUT", 'Send {"secret": "<the API key>"}.')
    service: KeysService = request.app.state.services
    key = await service.verify(secret)
    if key is None:
        return _problem(404, "NOT_FOUND", "No valid API key has this secret.")
    return _verified(key)


def services(runtime: Runtime, settings: Settings) -> KeysService:
    return KeysService(runtime.db, runtime.redis, settings)


DOMAIN = Domain(
    name="keys",
    port=8003,
    schema=schema,
    services=services,
    migrations=MigrationSet("keys", Path(__file__).parent / "migrations"),
    routes=[Route(VERIFY_PATH, verify, methods=["POST"])],
    jobs=JOBS,
)
