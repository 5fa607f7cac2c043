"""Business rules of API keys: who may hold which scopes, secrets shown once, rotation with a
grace period, revocation, verification for the router and usage. No GraphQL here."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar, cast
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import ANONYMOUS, Caller
from core.scopes import SCOPES, scopes_of
from subgraphs.billing.contract import API_KEYS
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.errors import ErrorCode, Problem, Rejected, checked, existing, require
from subgraphs.kernel.outbox import stage_announcement
from subgraphs.kernel.tokens import token_hash
from subgraphs.keys import repository
from subgraphs.keys.contract import (
    CHANGED_CHANNEL,
    REJECTED_FIELD,
    REQUESTS_FIELD,
    SECRET_PREFIX,
    USAGE_PATTERN,
    USAGE_TTL_SECONDS,
    KeysErrorCode,
    last_used_key,
    parse_usage_key,
    usage_key,
)
from subgraphs.keys.models import ApiKey
from subgraphs.keys.settings import Settings

MAX_RATE_LIMIT = 1_000_000
MAX_RATE_WINDOW_SECONDS = 86400
MAX_USAGE_DAYS = 366
_PREFIX_LENGTH = len(SECRET_PREFIX) + 8
_MAX_SECRET_LENGTH = 256
_FLUSH_LOCK = "vetrai:keys:flush-lock"
T = TypeVar("T")
log = logging.getLogger("vetrai.keys")
# The lock's renewal's wait between renewals; a test replaces it to see the wait without waiting.
_sleep = asyncio.sleep


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class NewKey:
    """The input of ``create``, as the client gave it."""

    org_id: UUID
    name: str
    scopes: Sequence[str]
    expires_at: datetime | None = None
    rate_limit: RateLimit | None = None


@dataclass(frozen=True)
class KeyTerms:
    """A new key's cleaned name, scopes, expiry and rate limit."""

    name: str
    scopes: list[str]
    expires_at: datetime | None
    rate_limit: RateLimit


@dataclass(frozen=True)
class IssuedSecret:
    """A key and the secret that opens it, shown to its creator this once."""

    api_key: ApiKey
    secret: str


@dataclass(frozen=True)
class VerifiedKey:
    """What the router learns from a valid secret; ``valid_until`` bounds how long to cache it."""

    key_id: UUID
    org_id: UUID
    scopes: list[str]
    created_by: UUID
    rate_limit: RateLimit
    valid_until: datetime | None


@dataclass(frozen=True)
class Usage:
    day: date
    requests: int
    rejected: int


@dataclass(frozen=True)
class _Counter:
    """One key's requests on one day, as counted in Redis under ``name``."""

    name: str
    key_id: UUID
    day: date
    requests: int
    rejected: int

    def row(self, org_id: UUID) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "day": self.day,
            "org_id": org_id,
            "requests": self.requests,
            "rejected": self.rejected,
        }


def _new_secret() -> tuple[str, str, str]:
    """A secret (256 random bits), its hash and its display prefix."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, token_hash(secret), secret[:_PREFIX_LENGTH]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _renewed(lock: Lock, lifetime: float) -> None:
    """Renew ``lock`` at a third of its lifetime until cancelled; returns once it is lost (or
    released: a renewal that outlived its flush ends at its next turn)."""
    with suppress(LockError):
        while await lock.reacquire():
            await _sleep(lifetime / 3)


def _later(stored: datetime | None, stamp: bytes | None) -> datetime | None:
    """The later of a stored ``last_used_at`` and the router's latest stamp in Redis."""
    if stamp is None:
        return stored
    seen = datetime.fromisoformat(stamp.decode())
    return max(stored or seen, seen)


def _is_expired(key: ApiKey, now: datetime) -> bool:
    return key.expires_at is not None and key.expires_at <= now


def managing_user(caller: Caller) -> UUID:
    """The user managing keys; keys cannot manage keys, so a stolen key cannot mint others."""
    if caller.key_id is not None:
        raise Rejected.one(ErrorCode.FORBIDDEN, "API keys cannot manage API keys.")
    if caller.user_id is None:
        raise Rejected.one(ErrorCode.UNAUTHENTICATED, "Log in first.")
    return caller.user_id


def require_manager(caller: Caller, org_id: UUID) -> UUID:
    user_id = managing_user(caller)
    if caller.org_id != org_id:
        raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown organization.", "organizationId")
    require(
        caller.manages(org_id), ErrorCode.FORBIDDEN, "Only owners and admins can manage API keys."
    )
    return user_id


def require_held(caller: Caller, scopes: Sequence[str]) -> None:
    """A key never has more rights than the member who creates or rotates it."""
    beyond = sorted(set(scopes) - scopes_of(caller.roles))
    require(
        not beyond,
        KeysErrorCode.SCOPE_NOT_HELD,
        f"You do not hold these scopes: {', '.join(beyond)}.",
        "scopes",
    )


def validated_scopes(scopes: Sequence[str]) -> list[str]:
    unknown = sorted(set(scopes) - SCOPES)
    require(
        not unknown,
        ErrorCode.INVALID_INPUT,
        f"Unknown scopes: {', '.join(unknown)}. Valid scopes: {', '.join(sorted(SCOPES))}.",
        "scopes",
    )
    require(bool(scopes), ErrorCode.INVALID_INPUT, "Choose at least one scope.", "scopes")
    return sorted(set(scopes))


def validated_rate_limit(rate_limit: RateLimit) -> RateLimit:
    problems = []
    if not 1 <= rate_limit.limit <= MAX_RATE_LIMIT:
        problems.append(
            Problem(
                ErrorCode.INVALID_INPUT,
                f"Must be between 1 and {MAX_RATE_LIMIT}.",
                "rateLimit.limit",
            )
        )
    if not 1 <= rate_limit.window_seconds <= MAX_RATE_WINDOW_SECONDS:
        problems.append(
            Problem(
                ErrorCode.INVALID_INPUT,
                f"Must be between 1 and {MAX_RATE_WINDOW_SECONDS} seconds.",
                "rateLimit.windowSeconds",
            )
        )
    if problems:
        raise Rejected(*problems)
    return rate_limit


def validated_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    expires_at = _utc(expires_at)
    require(
        expires_at > utcnow(),
        ErrorCode.INVALID_INPUT,
        "Must be in the future.",
        "expiresAt",
    )
    return expires_at


class KeysService:
    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings

    # managing keys -----------------------------------------------------------------------------

    def _checked(self, caller: Caller, new: NewKey) -> KeyTerms:
        """``new`` with its fields cleaned; every bad field is reported, not just the first."""
        default = RateLimit(
            self.settings.keys.api_key_default_rate_limit,
            self.settings.keys.api_key_default_rate_window_seconds,
        )
        terms = KeyTerms(
            **checked(
                name=lambda: validation.text(new.name, "name", max_length=100),
                scopes=lambda: validated_scopes(new.scopes),
                expires_at=lambda: validated_expiry(new.expires_at),
                rate_limit=lambda: validated_rate_limit(new.rate_limit or default),
            )
        )
        require_held(caller, terms.scopes)
        return terms

    async def create(self, caller: Caller, new: NewKey) -> IssuedSecret:
        user_id = require_manager(caller, new.org_id)
        terms = self._checked(caller, new)
        secret, hashed, prefix = _new_secret()
        async with self.db.transaction(caller) as session:
            maximum = caller.limit(API_KEYS, self.settings.keys.api_keys_max_per_organization)
            require(
                maximum is None or await repository.active_keys(session, new.org_id) < maximum,
                KeysErrorCode.API_KEY_LIMIT_REACHED,
                f"An organization can have at most {maximum} active API keys; revoke one first.",
            )
            key = ApiKey(
                org_id=new.org_id,
                name=terms.name,
                prefix=prefix,
                secret_hash=hashed,
                scopes=terms.scopes,
                rate_limit=terms.rate_limit.limit,
                rate_window_seconds=terms.rate_limit.window_seconds,
                created_by=user_id,
                expires_at=terms.expires_at,
            )
            session.add(key)
        return IssuedSecret(key, secret)

    async def _managed_key(self, session: AsyncSession, caller: Caller, key_id: UUID) -> ApiKey:
        managing_user(caller)
        key = existing(await repository.locked_key(session, key_id), "API key")
        require_manager(caller, key.org_id)
        return key

    async def rotate(self, caller: Caller, key_id: UUID, grace_seconds: int) -> IssuedSecret:
        """A new secret for the key; the old one keeps working for ``grace_seconds``."""
        longest = self.settings.keys.api_key_max_grace_seconds
        require(
            0 <= grace_seconds <= longest,
            ErrorCode.INVALID_INPUT,
            f"Must be between 0 and {longest} seconds.",
            "gracePeriodSeconds",
        )
        secret, hashed, prefix = _new_secret()
        async with self.db.transaction(caller) as session:
            key = await self._managed_key(session, caller, key_id)
            require(key.revoked_at is None, KeysErrorCode.API_KEY_REVOKED, "This key is revoked.")
            now = utcnow()
            require(
                not _is_expired(key, now), KeysErrorCode.API_KEY_EXPIRED, "This key has expired."
            )
            require_held(caller, key.scopes)
            keep_old = grace_seconds > 0
            key.previous_secret_hash = key.secret_hash if keep_old else None
            key.previous_valid_until = now + timedelta(seconds=grace_seconds) if keep_old else None
            key.secret_hash, key.prefix = hashed, prefix
            session.add(key)
            await self._announce(session, key, "rotated")
        return IssuedSecret(key, secret)

    async def revoke(self, caller: Caller, key_id: UUID) -> ApiKey:
        async with self.db.transaction(caller) as session:
            key = await self._managed_key(session, caller, key_id)
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                key.previous_secret_hash = key.previous_valid_until = None
                session.add(key)
            await self._announce(session, key, "revoked")
        return key

    async def _announce(self, session: AsyncSession, key: ApiKey, event: str) -> None:
        """Tell routers to forget what they cached about the key (after the change committed)."""
        message = {"event": event, "key_id": str(key.id), "org_id": str(key.org_id)}
        await stage_announcement(session, CHANGED_CHANNEL, message)

    # reading keys ------------------------------------------------------------------------------

    async def api_keys(self, caller: Caller, ids: list[UUID]) -> list[ApiKey | None]:
        """Keys by id, in order; None where the caller does not manage the key's organization."""
        async with self.db.transaction(caller) as session:
            rows = await repository.keys_by_id(session, ids)
            found = {k.id: k for k in rows if caller.manages(k.org_id)}
        await self._fresh_last_used(list(found.values()))
        return [found.get(i) for i in ids]

    async def keys_of(
        self, caller: Caller, org_ids: list[UUID], include_revoked: bool
    ) -> list[list[ApiKey]]:
        """Each organization's keys, newest first; empty unless the caller manages it."""
        visible = [o for o in org_ids if caller.manages(o)]
        by_org: dict[UUID, list[ApiKey]] = {}
        if visible:
            async with self.db.transaction(caller) as session:
                by_org = await repository.keys_of(session, visible, include_revoked)
        await self._fresh_last_used([k for keys in by_org.values() for k in keys])
        return [by_org.get(o, []) for o in org_ids]

    async def _fresh_last_used(self, keys: list[ApiKey]) -> None:
        """``last_used_at`` as the router last counted it, ahead of the next flush."""
        if not keys:
            return
        stamps = await self.redis.mget([last_used_key(k.id) for k in keys])
        for key, stamp in zip(keys, stamps, strict=True):
            key.last_used_at = _later(key.last_used_at, stamp)

    # usage -------------------------------------------------------------------------------------

    async def usage(
        self, caller: Caller, key_ids: list[UUID], start: date, end: date
    ) -> list[list[Usage]]:
        """Each key's requests per day from ``start`` to ``end`` (at most a year, ending at
        ``end``): what was flushed to PostgreSQL plus what Redis still counts."""
        start = max(start, end - timedelta(days=MAX_USAGE_DAYS - 1))
        if end < start:
            return [[] for _ in key_ids]
        async with self.db.transaction(caller) as session:
            keys = await repository.keys_by_id(session, key_ids)
            orgs = {k.id: k.org_id for k in keys if caller.manages(k.org_id)}
            counts = await repository.usage_days(session, list(orgs), start, end)
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        pending = await self._pending(orgs, [d for d in days if self._may_be_pending(d)])
        return [
            [self._day(counts, pending, key_id, day) for day in days] if key_id in orgs else []
            for key_id in key_ids
        ]

    @staticmethod
    def _may_be_pending(day: date) -> bool:
        today = utcnow().date()
        return today - timedelta(seconds=USAGE_TTL_SECONDS) <= day <= today

    async def _pending(
        self, orgs: dict[UUID, UUID], days: list[date]
    ) -> dict[tuple[UUID, date], tuple[int, int]]:
        """Counters not yet flushed, by key and day."""
        wanted = [(key_id, org_id, day) for key_id, org_id in orgs.items() for day in days]
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for key_id, org_id, day in wanted:
                pipe.hmget(usage_key(org_id, key_id, day), [REQUESTS_FIELD, REJECTED_FIELD])
            replies = await pipe.execute()
        return {
            (key_id, day): (int(requests or 0), int(rejected or 0))
            for (key_id, _, day), (requests, rejected) in zip(wanted, replies, strict=True)
        }

    @staticmethod
    def _day(
        counts: dict[tuple[UUID, date], tuple[int, int]],
        pending: dict[tuple[UUID, date], tuple[int, int]],
        key_id: UUID,
        day: date,
    ) -> Usage:
        stored = counts.get((key_id, day), (0, 0))
        unflushed = pending.get((key_id, day), (0, 0))
        return Usage(day, stored[0] + unflushed[0], stored[1] + unflushed[1])

    async def flush_usage(self) -> int:
        """Move the router's Redis counters into PostgreSQL; returns how many were moved.

        Counts are added in PostgreSQL first and subtracted in Redis after the commit, so a
        failure in between counts twice rather than losing requests. One flush at a time: the
        lock is renewed while the flush runs; a flush that loses it anyway (stalled past its
        lifetime, so another may hold it now) stops before its next organization and leaves
        the lock to whoever holds it.
        """
        lifetime = self.settings.keys.api_key_usage_flush_lock_seconds
        lock = self.redis.lock(_FLUSH_LOCK, timeout=lifetime, blocking=False)
        if not await lock.acquire():
            return 0
        held = asyncio.create_task(_renewed(lock, lifetime))
        try:
            moved = 0
            for org_id, counters in (await self._counters()).items():
                if held.done():
                    log.warning("the usage flush lost its lock; the next flush moves the rest")
                    break
                await self._flush_organization(org_id, counters)
                moved += len(counters)
            return moved
        finally:
            held.cancel()
            with suppress(LockNotOwnedError):
                await lock.release()

    async def _counters(self) -> dict[UUID, list[_Counter]]:
        """The counters with something to move, by organization."""
        batches: dict[UUID, list[_Counter]] = {}
        async for raw in self.redis.scan_iter(match=USAGE_PATTERN, count=500):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            counted = self.redis.hmget(name, [REQUESTS_FIELD, REJECTED_FIELD])
            requests, rejected = await cast(Awaitable[list[bytes | None]], counted)
            if int(requests or 0) or int(rejected or 0):
                try:
                    org_id, key_id, day = parse_usage_key(name)
                except ValueError:  # Redis is shared: one stray name must not stop the flush
                    log.warning("skipped a usage counter", extra={"fields": {"counter": name}})
                    continue
                counter = _Counter(name, key_id, day, int(requests or 0), int(rejected or 0))
                batches.setdefault(org_id, []).append(counter)
        return batches

    async def _flush_organization(self, org_id: UUID, counters: list[_Counter]) -> None:
        key_ids = sorted({c.key_id for c in counters})
        stamps = await self.redis.mget([last_used_key(k) for k in key_ids])
        last_used = dict(zip(key_ids, stamps, strict=True))
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            keys = await repository.locked_keys_of(session, org_id, key_ids)
            known = set()
            for key in keys:
                known.add(key.id)
                key.last_used_at = _later(key.last_used_at, last_used[key.id])
                session.add(key)
            # Counters of keys that no longer exist (or not in this organization) are dropped.
            rows = [c.row(org_id) for c in counters if c.key_id in known]
            if rows:
                await repository.add_usage(session, rows)
        async with self.redis.pipeline(transaction=True) as pipe:
            for counter in counters:
                pipe.hincrby(counter.name, REQUESTS_FIELD, -counter.requests)
                pipe.hincrby(counter.name, REJECTED_FIELD, -counter.rejected)
            await pipe.execute()

    # verification ------------------------------------------------------------------------------

    async def verify(self, secret: str) -> VerifiedKey | None:
        """The key a presented secret opens, or None (unknown, revoked, expired, rotated away).

        The lookup is by the secret's hash, so its timing says nothing about stored secrets; the
        match is then confirmed in constant time.
        """
        if not secret.startswith(SECRET_PREFIX) or len(secret) > _MAX_SECRET_LENGTH:
            return None
        hashed = token_hash(secret)
        async with self.db.transaction(ANONYMOUS) as session:
            key = await repository.key_by_hash(session, hashed)
        now = utcnow()
        if key is None or key.revoked_at is not None or _is_expired(key, now):
            return None
        return self._verified(key, hashed, now)

    @staticmethod
    def _verified(key: ApiKey, hashed: str, now: datetime) -> VerifiedKey | None:
        if hmac.compare_digest(key.secret_hash, hashed):
            valid_until = key.expires_at
        elif (
            key.previous_secret_hash is not None
            and key.previous_valid_until is not None
            and hmac.compare_digest(key.previous_secret_hash, hashed)
            and key.previous_valid_until > now
        ):
            ends = [t for t in (key.expires_at, key.previous_valid_until) if t is not None]
            valid_until = min(ends)
        else:
            return None
        return VerifiedKey(
            key_id=key.id,
            org_id=key.org_id,
            scopes=list(key.scopes),
            created_by=key.created_by,
            rate_limit=RateLimit(key.rate_limit, key.rate_window_seconds),
            valid_until=valid_until,
        )
