"""Who is calling the router: a Bearer access token verified against auth's published keys
(JWKS, cached, refetched when a token names a key we do not know), turned into the signed
caller context each subgraph request carries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from subgraphs.kernel.caller import ANONYMOUS, Caller
from subgraphs.kernel.context import HEADER, sign_caller

_REFETCH_INTERVAL = 10.0


class Unauthenticated(Exception):
    """Credentials were presented and are not valid."""


def verify_token(
    token: str, key_set: KeySet, *, issuer: str, audience: str
) -> dict[str, Any] | None:
    """The claims of a valid, unexpired access token signed by a key of ``key_set``; else None."""
    try:
        decoded = jwt.decode(token, key_set, algorithms=["ES256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError):
        return None
    return dict(decoded.claims)


def _kid(token: str) -> str | None:
    try:
        kid = extract_compact(token.encode()).protected.get("kid")
    except (JoseError, ValueError):
        return None
    return kid if isinstance(kid, str) else None


class Authenticator:
    def __init__(self, jwks_url: str, *, issuer: str, audience: str) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._keys = KeySet([])
        self._fetched_at = 0.0
        self._http = httpx.AsyncClient(timeout=5.0)

    async def _refresh(self) -> None:
        if time.monotonic() - self._fetched_at < _REFETCH_INTERVAL and self._keys.keys:
            return
        response = await self._http.get(self.jwks_url)
        response.raise_for_status()
        self._keys = KeySet.import_key_set(response.json())
        self._fetched_at = time.monotonic()

    async def caller(self, authorization: str | None, client_ip: str | None) -> Caller:
        if not authorization:
            return Caller(client_ip=client_ip) if client_ip else ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Use 'Authorization: Bearer <access token>'.")
        if _kid(token) not in {key.kid for key in self._keys.keys}:
            await self._refresh()
        claims = verify_token(token, self._keys, issuer=self.issuer, audience=self.audience)
        if claims is None:
            raise Unauthenticated("The access token is invalid or has expired.")
        return Caller(
            user_id=UUID(claims["sub"]),
            session_id=UUID(claims["sid"]) if claims.get("sid") else None,
            client_ip=client_ip,
        )

    async def aclose(self) -> None:
        await self._http.aclose()


class Authenticate:
    """ASGI middleware: put the verified caller on the request, or answer 401."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            request = Request(scope)
            client = request.client.host if request.client else None
            try:
                caller = await self.authenticator.caller(
                    request.headers.get("authorization"), client
                )
            except Unauthenticated as exc:
                error = {"message": str(exc), "extensions": {"code": "UNAUTHENTICATED"}}
                await JSONResponse({"errors": [error]}, status_code=401)(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


def context_headers(key: bytes, ttl: int) -> Any:
    """The ``subgraph_headers`` hook: a fresh signed context for every subgraph request."""

    def headers(service: str, request: Request) -> Mapping[str, str]:
        caller = request.scope.get("state", {}).get("caller", ANONYMOUS)
        return {HEADER: sign_caller(caller, audience=service, key=key, ttl=ttl)}

    return headers
