"""Who is calling the router, and as which organization.

- ``Authorization: Bearer <JWT>``: verified against auth's published keys (JWKS, cached,
  refetched when a token names a key we do not know) and refused once its session has ended
  (auth's deny-list in Redis, read by the rate limiter's script in the same round trip as the
  caller's counters); the organization is the one named by
  ``X-Organization-Id`` or else the user's active one, with the user's role in it, from tenancy.
- ``X-API-Key: vetrai_...``: verified by the keys subgraph's internal route, and honoured only
  while the key's creator is still a member of its organization (with at most the scopes of the
  creator's role now); the answer is cached until the key changes (keys announces revocations
  and rotations on Redis) or expires.
- Nothing: anonymous.

The organization's plan (its key and what it grants) comes from billing, cached per
organization, and is signed into the caller; without billing's answer the caller has no plan and
the router's configured limits apply.

Answers from the subgraphs are cached briefly, so a request costs no lookups once warm; tenancy
announces removals, role changes and deleted organizations, billing plan changes, which drop what
is cached of them at once (if the announcements are lost, everything cached is dropped).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.caller import ANONYMOUS, Caller, Limit
from core.caller_context import HEADER, caller_claims, sign_caller, sign_claims
from core.logs import request_id
from core.scopes import INTERNAL_VERIFY, scopes_of
from core.tracing import outgoing
from router.config import Window
from subgraphs.billing.contract import PLAN_CHANGED_CHANNEL
from subgraphs.keys.contract import CHANGED_CHANNEL, SECRET_PREFIX
from subgraphs.tenancy.contract import MEMBERSHIP_CHANNEL

logger = logging.getLogger(__name__)
_REFETCH_INTERVAL = 10.0
_MEMBERSHIP_TTL = 30.0
_KEY_TTL = 300.0
_MAX_CACHED = 10_000
_MEMBERSHIP_QUERY = """query($id: ID!) { organization(id: $id) { id plan viewerRole } }"""
_CURRENT_QUERY = """{ currentOrganization { id plan viewerRole } }"""
_PLAN_QUERY = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Organization { plan entitlements { feature enabled limit } billing { plan { quota } } }
} }"""
_UNKNOWN_PLAN_TTL = 5.0
# The listener's wait before listening again; a test replaces it to see the wait without waiting.
_sleep = asyncio.sleep
_PLAN_CHANNELS = (PLAN_CHANGED_CHANNEL, PLAN_CHANGED_CHANNEL.encode())


class Unauthenticated(Exception):
    """Credentials were presented and are not valid."""


class Forbidden(Exception):
    """Valid credentials asked for an organization the caller does not belong to."""


class Unavailable(Exception):
    """A subgraph needed to tell who is calling did not answer."""


@dataclass(frozen=True)
class Identity:
    """``plan``: the plan key the router's configured limits know it by (tenancy's, when
    billing does not know the organization); ``member``: the user on whose membership the caller
    acts in its organization (a key's creator), who reads its plan."""

    caller: Caller
    plan: str | None = None
    key_limit: Window | None = None
    key_creator: UUID | None = None
    member: Caller | None = None
    soft_quota: bool = False


@dataclass(frozen=True)
class Plan:
    key: str
    limits: Mapping[str, Limit]
    soft_quota: bool = False


def plan_of(found: Mapping[str, Any]) -> Plan | None:
    """Billing's answer for an organization: its plan and what each feature grants (None: billing
    does not know the organization)."""
    entitlements = found.get("entitlements") or []
    if not entitlements or not isinstance(found.get("plan"), str):
        return None
    limits: dict[str, Limit] = {}
    for entitlement in entitlements:
        limit = entitlement.get("limit")
        on = bool(entitlement.get("enabled"))
        limits[str(entitlement["feature"])] = int(limit) if on and limit is not None else on
    terms = (found.get("billing") or {}).get("plan") or {}
    return Plan(found["plan"], limits, terms.get("quota") == "soft")


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


class _Expiring:
    """A small cache whose entries live until their own deadline.

    ``generation`` changes whenever entries are dropped: an answer looked up before a drop
    may be stale already, so ``put`` ignores it (``seen``: the generation when it was asked).
    """

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[float, Any]] = {}
        self.generation = 0

    def get(self, key: Any) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: Any, value: Any, ttl: float, seen: int) -> None:
        if seen != self.generation:
            return
        if len(self._entries) >= _MAX_CACHED:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def drop(self, matches: Callable[[Any, Any], bool]) -> None:
        """Forget every entry for which ``matches(key, value)``."""
        self.generation += 1
        for key in [k for k, (_, v) in self._entries.items() if matches(k, v)]:
            del self._entries[key]


@dataclass(frozen=True)
class Endpoints:
    jwks: str
    keys: str
    tenancy: str
    billing: str = ""


class Authenticator:
    def __init__(
        self, endpoints: Endpoints, *, issuer: str, audience: str, key: bytes, redis: Redis
    ) -> None:
        self.endpoints = endpoints
        self.issuer = issuer
        self.audience = audience
        self.key = key
        self.redis = redis
        self._jwks = KeySet([])
        self._jwks_fetched = 0.0
        self._keys = _Expiring()
        self._memberships = _Expiring()
        self._plans = _Expiring()
        self._by_address: dict[str | None, Identity] = {}
        self._listener: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(timeout=5.0)

    async def identify(self, headers: Mapping[str, str], client_ip: str | None) -> Identity:
        self._listen()
        identity = await self._identity(headers, client_ip)
        if identity.member is None or identity.caller.org_id is None:
            return identity
        plan = await self._plan(identity.caller.org_id, identity.member)
        if plan is None:
            return identity
        caller = replace(identity.caller, plan=plan.key, limits=plan.limits)
        return replace(identity, caller=caller, plan=plan.key, soft_quota=plan.soft_quota)

    async def _identity(self, headers: Mapping[str, str], client_ip: str | None) -> Identity:
        secret = headers.get("x-api-key")
        if secret:
            return await self._api_key(secret, client_ip)
        authorization = headers.get("authorization")
        if authorization:
            return await self._user(authorization, headers.get("x-organization-id"), client_ip)
        return self._anonymous(client_ip)

    def _anonymous(self, client_ip: str | None) -> Identity:
        """An anonymous caller's identity, made once per address (its dataclasses cost more
        than a look-up)."""
        found = self._by_address.get(client_ip)
        if found is None:
            if len(self._by_address) >= _MAX_CACHED:
                self._by_address.clear()
            caller = Caller(client_ip=client_ip) if client_ip else ANONYMOUS
            found = self._by_address[client_ip] = Identity(caller)
        return found

    # internal calls to subgraphs -------------------------------------------------------------

    async def _post(self, url: str, audience: str, caller: Caller, body: object) -> httpx.Response:
        headers = {
            HEADER: sign_caller(caller, audience=audience, key=self.key),
            "content-type": "application/json",
            **outgoing(),
        }
        return await self._http.post(url, content=orjson.dumps(body), headers=headers)

    async def _organization(self, caller: Caller, org: str | None) -> dict[str, Any] | None:
        body = (
            {"query": _MEMBERSHIP_QUERY, "variables": {"id": org}}
            if org
            else {"query": _CURRENT_QUERY}
        )
        response = await self._post(self.endpoints.tenancy, "tenancy", caller, body)
        response.raise_for_status()
        data = response.json().get("data") or {}
        found = data.get("organization" if org else "currentOrganization")
        return found if isinstance(found, dict) else None

    # users ------------------------------------------------------------------------------------

    async def _refresh_jwks(self) -> None:
        if time.monotonic() - self._jwks_fetched < _REFETCH_INTERVAL and self._jwks.keys:
            return
        try:
            response = await self._http.get(self.endpoints.jwks)
            response.raise_for_status()
            self._jwks = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            raise Unavailable("Access tokens cannot be checked right now.") from exc
        self._jwks_fetched = time.monotonic()

    async def _user(self, authorization: str, org: str | None, client_ip: str | None) -> Identity:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Use 'Authorization: Bearer <access token>'.")
        if _kid(token) not in {key.kid for key in self._jwks.keys}:
            await self._refresh_jwks()
        claims = verify_token(token, self._jwks, issuer=self.issuer, audience=self.audience)
        if claims is None or not claims.get("sid"):
            raise Unauthenticated("The access token is invalid or has expired.")
        session_id = UUID(claims["sid"])
        user = Caller(
            user_id=UUID(claims["sub"]),
            session_id=session_id,
            client_ip=client_ip,
            email=claims.get("email"),
            email_verified=claims.get("email_verified") is True,
        )
        try:
            membership = await self._membership(user, org)
        except httpx.HTTPError as exc:
            # Without tenancy the user still acts as themselves, in no organization.
            logger.warning("organization lookup failed: %r", exc)
            membership = None
        if membership is None:
            if org:
                raise Forbidden("You are not a member of this organization.")
            return Identity(user)
        role = str(membership["viewerRole"]).lower()
        caller = replace(
            user, org_id=UUID(membership["id"]), roles=frozenset({role}), scopes=scopes_of([role])
        )
        return Identity(caller, plan=membership.get("plan"), member=caller)

    async def _membership(self, user: Caller, org: str | None) -> dict[str, Any] | None:
        """The user's organization (``org``, else their active one) with their role in it."""
        cache_key = (user.user_id, org)
        cached = self._memberships.get(cache_key)
        if cached is None:
            seen = self._memberships.generation
            found = await self._organization(user, org)
            if not (found and found.get("viewerRole")):
                return None  # not cached: a membership made a moment ago must count at once
            cached = found
            self._memberships.put(cache_key, cached, _MEMBERSHIP_TTL, seen)
        return cached  # type: ignore[no-any-return]

    # plans ------------------------------------------------------------------------------------

    async def _plan(self, org_id: UUID, member: Caller) -> Plan | None:
        """The organization's plan, read by one of its members; None while billing does not
        know it or does not answer (then remembered briefly: every request must not wait)."""
        cached = self._plans.get(org_id)
        if cached is None:
            seen = self._plans.generation
            plan = await self._read_plan(org_id, member)
            self._plans.put(
                org_id, plan or False, _MEMBERSHIP_TTL if plan else _UNKNOWN_PLAN_TTL, seen
            )
            return plan
        return cached or None

    async def _read_plan(self, org_id: UUID, member: Caller) -> Plan | None:
        if not self.endpoints.billing:
            return None
        body = {
            "query": _PLAN_QUERY,
            "variables": {"r": [{"__typename": "Organization", "id": str(org_id)}]},
        }
        try:
            response = await self._post(self.endpoints.billing, "billing", member, body)
            response.raise_for_status()
            found = (response.json().get("data") or {}).get("_entities") or [None]
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("plan lookup failed: %r", exc)
            return None
        return plan_of(found[0]) if isinstance(found[0], dict) else None

    # API keys ---------------------------------------------------------------------------------

    async def _api_key(self, secret: str, client_ip: str | None) -> Identity:
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            raise Unauthenticated("The API key is not valid.")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        identity: Identity | None = self._keys.get(digest)
        if identity is None:
            seen = self._keys.generation
            identity, ttl = await self._verify_key(secret, client_ip)
            self._keys.put(digest, identity, ttl, seen)
        if identity.caller.client_ip == client_ip:
            return identity
        return replace(identity, caller=replace(identity.caller, client_ip=client_ip))

    async def _verify_key(self, secret: str, client_ip: str | None) -> tuple[Identity, float]:
        router = Caller(scopes=frozenset({INTERNAL_VERIFY}))
        try:
            response = await self._post(self.endpoints.keys, "keys", router, {"secret": secret})
            if response.status_code == 404:
                raise Unauthenticated("The API key is not valid.")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise Unavailable("API keys cannot be checked right now.") from exc
        key = response.json()
        creator = UUID(key["created_by"])
        try:
            found = await self._membership(Caller(user_id=creator), key["org_id"])
        except httpx.HTTPError as exc:
            raise Unavailable("API keys cannot be checked right now.") from exc
        if found is None:
            raise Unauthenticated("The API key's organization is gone, or its creator left it.")
        caller = Caller(
            key_id=UUID(key["key_id"]),
            org_id=UUID(key["org_id"]),
            scopes=frozenset(key["scopes"]) & scopes_of([str(found["viewerRole"]).lower()]),
            client_ip=client_ip,
        )
        limit = key.get("rate_limit")
        role = str(found["viewerRole"]).lower()
        identity = Identity(
            caller,
            plan=found.get("plan"),
            key_limit=Window(**limit) if limit else None,
            key_creator=creator,
            member=Caller(user_id=creator, org_id=caller.org_id, roles=frozenset({role})),
        )
        ttl = _KEY_TTL
        if key.get("expires_at"):
            remaining = datetime.fromisoformat(key["expires_at"]).timestamp() - time.time()
            ttl = min(ttl, max(remaining, 0.0))
        return identity, ttl

    # announcements ----------------------------------------------------------------------------

    def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._forget_announced())

    async def _forget_announced(self) -> None:
        """Drop what is cached of a key, a member or an organization as soon as it changes."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(
                        CHANGED_CHANNEL, MEMBERSHIP_CHANNEL, PLAN_CHANGED_CHANNEL
                    )
                    # What was announced while we were not listening is unknown: forget all.
                    self._forget_all()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        announced = orjson.loads(message["data"])
                        if message["channel"] in _PLAN_CHANNELS:
                            self._forget_plan(UUID(announced["org_id"]))
                        else:
                            self._forget(announced)
            except RedisError as exc:
                logger.warning("lost the announcements, listening again: %r", exc)
                self._forget_all()
                await _sleep(1.0)

    def _forget_all(self) -> None:
        self._keys.clear()
        self._memberships.clear()
        self._plans.clear()

    def _forget_plan(self, org_id: UUID) -> None:
        self._plans.drop(lambda key, _: key == org_id)

    def _forget(self, message: dict[str, Any]) -> None:
        """A key was revoked or rotated; a member left or changed role; an organization (with
        all its keys) was deleted."""
        if message.get("key_id"):
            key_id = UUID(message["key_id"])
            self._keys.drop(lambda _, identity: identity.caller.key_id == key_id)
            return
        org_id = UUID(message["org_id"])
        if message.get("user_id") is None:
            self._keys.drop(lambda _, identity: identity.caller.org_id == org_id)
            self._memberships.drop(lambda _, found: found["id"] == str(org_id))
            self._forget_plan(org_id)
            return
        user_id = UUID(message["user_id"])
        self._keys.drop(lambda _, i: i.caller.org_id == org_id and i.key_creator == user_id)
        self._memberships.drop(lambda key, found: key[0] == user_id and found["id"] == str(org_id))

    async def aclose(self) -> None:
        if self._listener:
            self._listener.cancel()
        await self._http.aclose()


def context_signer(key: bytes, ttl: int) -> Callable[[Caller], Callable[[str], Mapping[str, str]]]:
    """For one request's caller, the headers of each of its subgraph requests: a fresh signed
    context for that subgraph, the request id and the trace. What is the same for every
    subgraph request (the caller's claims, the request id, the trace) is read once."""

    def for_caller(caller: Caller) -> Callable[[str], Mapping[str, str]]:
        claims = caller_claims(caller)
        shared = {"x-request-id": request_id.get() or "", **outgoing()}

        def headers(service: str) -> Mapping[str, str]:
            return {HEADER: sign_claims(claims, audience=service, key=key, ttl=ttl), **shared}

        return headers

    return for_caller
