"""The signed caller context: the router signs it per subgraph request, subgraphs verify it.

Wire format of the header: ``v1.<base64url(json claims)>.<base64url(HMAC-SHA256)>``. A context
is bound to one subgraph (``aud``), lives ``VETRAI_CONTEXT_TTL`` seconds and is accepted once
(its ``jti`` is remembered in Redis until it expires), so a captured header cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from redis.asyncio import Redis

from core.caller import Caller, Limit
from core.settings import CoreSettings, SettingsError

HEADER = "x-vetrai-caller"
_VERSION = "v1"
_CLOCK_SKEW = 5


class InvalidContext(Exception):
    """The caller context is forged, expired, for another subgraph, or replayed."""


def context_key(settings: CoreSettings) -> bytes:
    """The shared signing key; in development it is generated once under the data folder."""
    if settings.context_key is not None:
        return settings.context_key.get_secret_value().encode()
    if settings.environment == "production":
        raise SettingsError("VETRAI_CONTEXT_KEY: required in production")
    return settings.generated_secret("context.key").encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    mac = _keyed(key).copy()
    mac.update(body.encode())
    return _b64(mac.digest())


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 with ``key`` set up: copying it costs half of ``hmac.digest``, which fetches
    the digest from OpenSSL and sets up the key on every call (every subgraph request signs
    one context, every subgraph checks one)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def caller_claims(caller: Caller) -> dict[str, Any]:
    """What every context signed for ``caller`` says of it: computed once per request, signed
    once per subgraph request by ``sign_claims``."""
    claims: dict[str, Any] = {
        "sub": str(caller.user_id) if caller.user_id else None,
        "org": str(caller.org_id) if caller.org_id else None,
        "roles": sorted(caller.roles),
        "scopes": sorted(caller.scopes),
        "key": str(caller.key_id) if caller.key_id else None,
        "sid": str(caller.session_id) if caller.session_id else None,
        "ip": caller.client_ip,
        "email": caller.email,
        "ev": caller.email_verified,
    }
    if caller.plan is not None:
        claims["plan"] = caller.plan
        claims["lim"] = dict(caller.limits)
    return claims


def sign_claims(claims: Mapping[str, Any], *, audience: str, key: bytes, ttl: int = 60) -> str:
    """The header value of one request to subgraph ``audience``: ``claims`` (a caller's, from
    ``caller_claims``) bound to it, for ``ttl`` seconds, under a fresh jti."""
    now = int(time.time())
    bound = {
        **claims,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    body = _b64(orjson.dumps(bound))
    return f"{_VERSION}.{body}.{_mac(key, body)}"


def sign_caller(caller: Caller, *, audience: str, key: bytes, ttl: int = 60) -> str:
    """The header value of one request to subgraph ``audience`` made for ``caller``."""
    return sign_claims(caller_claims(caller), audience=audience, key=key, ttl=ttl)


def _uuid(value: object) -> UUID | None:
    return UUID(str(value)) if value else None


def read_caller(header: str, *, audience: str, key: bytes) -> tuple[Caller, str, int]:
    """Check signature, audience and lifetime; return the caller, its jti and its expiry."""
    try:
        version, body, mac = header.split(".")
    except ValueError:
        raise InvalidContext("malformed caller context") from None
    if version != _VERSION or not hmac.compare_digest(mac, _mac(key, body)):
        raise InvalidContext("caller context signature is invalid")
    try:
        return _claims(orjson.loads(_unb64(body)), audience)
    except (KeyError, TypeError, ValueError):
        raise InvalidContext("caller context is malformed") from None


def _claims(claims: dict[str, Any], audience: str) -> tuple[Caller, str, int]:
    now = time.time()
    if claims["aud"] != audience:
        raise InvalidContext("caller context is for another service")
    if claims["exp"] < now or claims["iat"] > now + _CLOCK_SKEW:
        raise InvalidContext("caller context has expired")
    caller = Caller(
        user_id=_uuid(claims["sub"]),
        org_id=_uuid(claims["org"]),
        roles=frozenset(claims["roles"]),
        scopes=frozenset(claims["scopes"]),
        key_id=_uuid(claims["key"]),
        session_id=_uuid(claims["sid"]),
        client_ip=claims["ip"],
        plan=claims.get("plan"),
        limits=_limits(claims.get("lim") or {}),
        email=_email(claims.get("email")),
        email_verified=claims.get("ev") is True,
    )
    return caller, str(claims["jti"]), int(claims["exp"])


def _email(claimed: object) -> str | None:
    if claimed is not None and not isinstance(claimed, str):
        raise ValueError("an email is a string")
    return claimed


def _limits(claimed: object) -> dict[str, Limit]:
    """A context without ``lim`` (from a router before plans were signed) grants no limits."""
    if not isinstance(claimed, dict) or not all(isinstance(v, int) for v in claimed.values()):
        raise ValueError("a plan limit is a number or a boolean")
    return {str(feature): value for feature, value in claimed.items()}


async def verify_caller(header: str, *, audience: str, key: bytes, redis: Redis) -> Caller:
    """``read_caller`` plus the replay guard shared by every replica through Redis."""
    caller, jti, expires = read_caller(header, audience=audience, key=key)
    ttl = max(1, expires - int(time.time()) + _CLOCK_SKEW)
    if not await redis.set(f"vetrai:ctx:{audience}:{jti}", 1, nx=True, ex=ttl):
        raise InvalidContext("caller context was already used")
    return caller
