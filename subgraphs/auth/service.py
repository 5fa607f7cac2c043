"""Business rules of identity: accounts, passwords, sessions and email tokens. No GraphQL here."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import ANONYMOUS, Caller
from subgraphs.auth.contract import AuthErrorCode, ended_session_key
from subgraphs.auth.models import EmailToken, OrganizationMembers, RefreshToken, User
from subgraphs.auth.settings import Settings
from subgraphs.auth.signing import TokenSigner
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, upsert_if_newer, utcnow
from subgraphs.kernel.errors import ErrorCode, Rejected, checked, existing, signed_in
from subgraphs.kernel.tokens import new_token, token_hash
from subgraphs.notifications.contract import NotificationRequest, Recipient, stage_notification

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a token purpose, not a password
_COMMON_PASSWORDS = frozenset(
    {"password123", "1234567890", "qwertyuiop", "password1234", "iloveyou12", "letmein123"}
)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


def check_password_strength(password: str, email: str, field: str = "password") -> None:
    problem = None
    if len(password) < 10:
        problem = "Use at least 10 characters."
    elif len(password) > 128:
        problem = "Use at most 128 characters."
    elif len(set(password)) < 5 or password.lower() in _COMMON_PASSWORDS:
        problem = "This password is too easy to guess."
    elif email and email.split("@")[0] in password.lower():
        problem = "Do not use your email address in your password."
    if problem:
        raise Rejected.one(AuthErrorCode.WEAK_PASSWORD, problem, field)


async def record_members(db: Database, org_id: UUID, user_ids: list[UUID], as_of: datetime) -> None:
    """Record tenancy's list of an organization's members unless a newer one is recorded."""
    row = {"org_id": org_id, "user_ids": user_ids, "as_of": as_of}
    table = OrganizationMembers.__table__  # type: ignore[attr-defined]
    async with db.transaction(ANONYMOUS) as session:
        await upsert_if_newer(session, table, row, key="org_id")


def login_delay(failures: int, settings: Settings) -> float:
    """Seconds a login for an email waits after ``failures`` failed ones for it from anywhere:
    one more second per failure from the threshold on, up to the maximum."""
    beyond = failures - settings.auth.login_slow_down_after_failures_per_email + 1
    return float(min(max(beyond, 0), settings.auth.login_max_delay_seconds))


class AuthService:
    def __init__(self, db: Database, redis: Redis, settings: Settings, signer: TokenSigner):
        self.db = db
        self.redis = redis
        self.settings = settings
        self.signer = signer
        self.hasher = PasswordHasher()
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # passwords -------------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # sessions ----------------------------------------------------------------------------------

    def _access_token(self, user: User, family_id: UUID) -> str:
        now = int(time.time())
        return self.signer.sign(
            {
                "sub": str(user.id),
                "sid": str(family_id),
                "email": user.email,
                "email_verified": user.email_verified_at is not None,
                "iat": now,
                "exp": now + self.settings.auth.access_token_ttl_seconds,
                "jti": secrets.token_urlsafe(12),
            }
        )

    def _issue(self, session: AsyncSession, user: User, family_id: UUID) -> Tokens:
        refresh, refresh_hash = new_token()
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=refresh_hash,
                expires_at=utcnow()
                + timedelta(seconds=self.settings.auth.refresh_token_ttl_seconds),
            )
        )
        return Tokens(
            self._access_token(user, family_id),
            refresh,
            self.settings.auth.access_token_ttl_seconds,
        )

    async def _revoke_families(
        self,
        session: AsyncSession,
        user_id: UUID,
        *,
        keep: UUID | None = None,
        family: UUID | None = None,
    ) -> None:
        statement = update(RefreshToken).where(
            col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None)
        )
        if keep is not None:
            statement = statement.where(col(RefreshToken.family_id) != keep)
        if family is not None:
            statement = statement.where(col(RefreshToken.family_id) == family)
        ended = await session.exec(
            statement.values(revoked_at=utcnow()).returning(col(RefreshToken.family_id))
        )
        # Before the commit: if Redis fails, nothing is revoked and the caller hears of it.
        ttl = self.settings.auth.access_token_ttl_seconds
        async with self.redis.pipeline(transaction=False) as pipe:
            for family_id in set(ended.scalars()):
                pipe.set(ended_session_key(family_id), 1, ex=ttl)
            await pipe.execute()

    # throttling --------------------------------------------------------------------------------

    def _throttle_keys(self, email: str, address: str | None) -> tuple[list[tuple[str, int]], str]:
        """The counters that refuse a login (per email and address, per address) with their
        limits, and the one that only slows an email's logins down."""
        digest = hashlib.sha256(email.encode()).hexdigest()
        where = address or "unknown"
        auth = self.settings.auth
        refusing = [
            (f"auth:fail:pair:{digest}:{where}", auth.login_max_failures_per_email_and_address),
            (f"auth:fail:addr:{where}", auth.login_max_failures_per_address),
        ]
        return refusing, f"auth:fail:email:{digest}"

    async def _wait_or_refuse(self, refusing: list[tuple[str, int]], slowing: str) -> None:
        counts = [int(c or 0) for c in await self.redis.mget([k for k, _ in refusing] + [slowing])]
        if any(count >= limit for count, (_, limit) in zip(counts, refusing, strict=False)):
            raise Rejected.one(
                AuthErrorCode.TOO_MANY_ATTEMPTS, "Too many failed attempts; try again later."
            )
        await asyncio.sleep(login_delay(counts[-1], self.settings))

    async def _record_failure(self, keys: list[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, 0, nx=True, ex=self.settings.auth.login_failure_window_seconds)
                pipe.incr(key)
            await pipe.execute()

    # use cases ---------------------------------------------------------------------------------

    async def sign_up(self, email: str, password: str, name: str) -> tuple[User, Tokens]:
        values = checked(
            email=lambda: validation.email(email),
            name=lambda: validation.text(name, "name", max_length=100),
            password=lambda: check_password_strength(password, email.strip().lower()),
        )
        user = User(
            email=values["email"],
            name=values["name"],
            password_hash=await self._hash(password),
        )
        try:
            async with self.db.transaction(ANONYMOUS) as session:
                session.add(user)
                await session.flush()
                tokens = self._issue(session, user, uuid4())
                await stage_notification(session, self._verification(session, user))
        except IntegrityError:
            raise Rejected.one(
                AuthErrorCode.EMAIL_TAKEN, "An account with this email already exists.", "email"
            ) from None
        return user, tokens

    async def log_in(self, email: str, password: str, caller: Caller) -> tuple[User, Tokens]:
        email = email.strip().lower()
        refusing, slowing = self._throttle_keys(email, caller.client_ip)
        await self._wait_or_refuse(refusing, slowing)
        async with self.db.transaction(ANONYMOUS) as session:
            user = (await session.exec(select(User).where(User.email == email))).first()
            valid = await self._matches(user.password_hash if user else self._dummy_hash, password)
            if user is None or not valid:
                await self._record_failure([key for key, _ in refusing] + [slowing])
                raise Rejected.one(AuthErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")
            tokens = self._issue(session, user, uuid4())
        await self.redis.delete(refusing[0][0])
        return user, tokens

    async def refresh(self, refresh_token: str) -> Tokens:
        """Spend a refresh token; presenting a spent one revokes its whole family."""
        invalid = Rejected.one(ErrorCode.INVALID_TOKEN, "This session has ended; log in again.")
        async with self.db.transaction(ANONYMOUS) as session:
            found = await session.exec(
                select(RefreshToken)
                .where(RefreshToken.token_hash == token_hash(refresh_token))
                .with_for_update()
            )
            stored = found.first()
            if stored is None or stored.revoked_at is not None or stored.expires_at < utcnow():
                raise invalid
            if stored.used_at is None:
                stored.used_at = utcnow()
                session.add(stored)
                user = existing(await session.get(User, stored.user_id), "user")
                return self._issue(session, user, stored.family_id)
            # A spent token came back: someone holds a copy. End the session for both of them,
            # committing the revocation before refusing.
            await self._revoke_families(session, stored.user_id, family=stored.family_id)
        raise invalid

    async def log_out(self, refresh_token: str) -> None:
        async with self.db.transaction(ANONYMOUS) as session:
            found = await session.exec(
                select(RefreshToken).where(RefreshToken.token_hash == token_hash(refresh_token))
            )
            stored = found.first()
            if stored is None:
                raise Rejected.one(ErrorCode.INVALID_TOKEN, "Unknown session.")
            await self._revoke_families(session, stored.user_id, family=stored.family_id)

    async def me(self, caller: Caller) -> User | None:
        if caller.user_id is None:
            return None
        async with self.db.transaction(caller) as session:
            return await session.get(User, caller.user_id)

    async def users(self, caller: Caller, ids: list[UUID]) -> list[User | None]:
        """Users by id, in order; None for those the caller shares no organization with."""
        if not caller.is_authenticated:
            return [None] * len(ids)
        async with self.db.transaction(caller) as session:
            visible = await self._visible(session, caller) & set(ids)
            found = await session.exec(select(User).where(col(User.id).in_(visible)))
            by_id = {u.id: u for u in found}
        return [by_id.get(i) for i in ids]

    async def _visible(self, session: AsyncSession, caller: Caller) -> set[UUID]:
        """The caller, and the members of every organization the caller belongs to (a key: of
        its own organization)."""
        shared = []
        if caller.user_id is not None:
            shared.append(col(OrganizationMembers.user_ids).contains([caller.user_id]))
        if caller.org_id is not None:
            shared.append(col(OrganizationMembers.org_id) == caller.org_id)
        rows = await session.exec(select(OrganizationMembers.user_ids).where(or_(*shared)))
        visible = {user for members in rows for user in members}
        return visible | ({caller.user_id} if caller.user_id else set())

    async def update_profile(self, caller: Caller, name: str) -> User:
        user_id = signed_in(caller)
        name = validation.text(name, "name", max_length=100)
        async with self.db.transaction(caller) as session:
            user = existing(await session.get(User, user_id), "user")
            user.name = name
            user.updated_at = utcnow()
            session.add(user)
        return user

    async def change_password(self, caller: Caller, current: str, new: str) -> None:
        """Other sessions end; the caller's own session stays."""
        user_id = signed_in(caller)
        async with self.db.transaction(caller) as session:
            user = existing(await session.get(User, user_id, with_for_update=True), "user")
            if not await self._matches(user.password_hash, current):
                raise Rejected.one(
                    AuthErrorCode.INVALID_CREDENTIALS, "Wrong password.", "currentPassword"
                )
            check_password_strength(new, user.email, "newPassword")
            user.password_hash = await self._hash(new)
            user.updated_at = utcnow()
            session.add(user)
            await self._revoke_families(session, user.id, keep=caller.session_id)

    # email tokens ------------------------------------------------------------------------------

    def _email_token(
        self, session: AsyncSession, user: User, purpose: str, ttl: int, path: str
    ) -> NotificationRequest:
        """A new single-use token, and the email (security category) that carries its link."""
        token, hashed = new_token()
        stored = EmailToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hashed,
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
        session.add(stored)
        return NotificationRequest(
            template_key=purpose,
            category="security",
            recipients=[Recipient(user_id=user.id, email=user.email)],
            idempotency_key=f"auth:email_token:{stored.id}",
            data={
                "name": user.name,
                "link": f"{self.settings.core.public_url}/{path}?token={token}",
            },
        )

    def _verification(self, session: AsyncSession, user: User) -> NotificationRequest:
        ttl = self.settings.auth.email_token_ttl_seconds
        return self._email_token(session, user, VERIFY_EMAIL, ttl, "verify-email")

    async def _spend(self, session: AsyncSession, token: str, purpose: str) -> User:
        found = await session.exec(
            select(EmailToken)
            .where(EmailToken.token_hash == token_hash(token), EmailToken.purpose == purpose)
            .with_for_update()
        )
        stored = found.first()
        if stored is None or stored.used_at is not None or stored.expires_at < utcnow():
            raise Rejected.one(
                ErrorCode.INVALID_TOKEN, "This link is invalid or has expired.", "token"
            )
        stored.used_at = utcnow()
        session.add(stored)
        return existing(await session.get(User, stored.user_id, with_for_update=True), "user")

    async def request_email_verification(self, caller: Caller) -> None:
        user_id = signed_in(caller)
        async with self.db.transaction(caller) as session:
            user = existing(await session.get(User, user_id), "user")
            if user.email_verified_at is not None:
                return
            await stage_notification(session, self._verification(session, user))

    async def verify_email(self, token: str) -> User:
        async with self.db.transaction(ANONYMOUS) as session:
            user = await self._spend(session, token, VERIFY_EMAIL)
            user.email_verified_at = user.email_verified_at or utcnow()
            session.add(user)
        return user

    async def request_password_reset(self, email: str) -> None:
        """Silent whether or not the address has an account, so it reveals none."""
        email = validation.email(email)
        async with self.db.transaction(ANONYMOUS) as session:
            user = (await session.exec(select(User).where(User.email == email))).first()
            if user is None:
                return
            ttl = self.settings.auth.password_reset_ttl_seconds
            reset = self._email_token(session, user, RESET_PASSWORD, ttl, "reset-password")
            await stage_notification(session, reset)

    async def reset_password(self, token: str, new_password: str) -> None:
        """Every session of the account ends."""
        async with self.db.transaction(ANONYMOUS) as session:
            user = await self._spend(session, token, RESET_PASSWORD)
            check_password_strength(new_password, user.email, "newPassword")
            user.password_hash = await self._hash(new_password)
            user.updated_at = utcnow()
            user.email_verified_at = user.email_verified_at or utcnow()
            session.add(user)
            await self._revoke_families(session, user.id)
