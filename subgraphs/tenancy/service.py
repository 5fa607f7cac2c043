"""Business rules of tenancy: organizations, who belongs to them and with which role."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import MANAGER_ROLES, Caller
from subgraphs.auth.contract import stage_members as stage_auth_members
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.kernel.errors import ErrorCode, Problem, Rejected, checked, existing, signed_in
from subgraphs.kernel.outbox import stage_announcement
from subgraphs.kernel.tokens import new_token, token_hash
from subgraphs.keys.contract import CHANGED_CHANNEL
from subgraphs.notifications.contract import (
    NotificationRequest,
    Recipient,
    stage_members,
    stage_notification,
)
from subgraphs.tenancy import repository
from subgraphs.tenancy.contract import MembershipEvent, TenancyErrorCode, stage_membership_change
from subgraphs.tenancy.models import ActiveOrganization, Invitation, Membership, Organization, Role
from subgraphs.tenancy.settings import Settings
from subgraphs.themes.contract import stage_slug
from subgraphs.workers.contract import stage_members as stage_workers_members

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
_RESERVED_SLUGS = frozenset({"admin", "api", "app", "graphql", "www", "help", "support", "status"})
_MANAGERS = frozenset(Role(role) for role in MANAGER_ROLES)


class OrganizationSettings(BaseModel):
    """The settings an organization may keep; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    timezone: str = "UTC"
    support_email: str | None = None
    allowed_email_domains: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("unknown time zone")
        return value

    @field_validator("support_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else _checked(validation.email, value)


def _checked(check: Any, value: str) -> str:
    try:
        result: str = check(value)
    except Rejected as exc:
        raise ValueError(exc.problems[0].message) from None
    return result


def validated_settings(raw: object) -> dict[str, Any]:
    try:
        return OrganizationSettings.model_validate(raw).model_dump()
    except ValidationError as exc:
        raise Rejected(
            *(
                Problem(
                    ErrorCode.INVALID_INPUT,
                    error["msg"],
                    ".".join(["settings", *map(str, error["loc"])]),
                )
                for error in exc.errors()
            )
        ) from None


def validated_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not _SLUG.match(slug) or slug in _RESERVED_SLUGS:
        raise Rejected.one(
            ErrorCode.INVALID_INPUT,
            "Use 3 to 63 lowercase letters, digits and inner hyphens; some names are reserved.",
            "slug",
        )
    return slug


def _check_invitee(caller: Caller, invitation: Invitation) -> None:
    """Only the invited address may join: a forwarded or leaked link is worth nothing to anyone
    else, and an address nobody proved to own does not count as it."""
    if caller.email is None or caller.email.strip().lower() != invitation.email:
        raise Rejected.one(
            TenancyErrorCode.INVITATION_FOR_ANOTHER_EMAIL,
            "This invitation was sent to another email address; sign in with that one.",
            "token",
        )
    if not caller.email_verified:
        raise Rejected.one(
            TenancyErrorCode.EMAIL_NOT_VERIFIED,
            "Verify your email address first, then refresh your session.",
        )


class TenancyService:
    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings

    async def _scope(self, session: AsyncSession, caller: Caller) -> dict[UUID, Role]:
        """The caller's memberships; opens their organizations to this transaction's queries."""
        if caller.user_id is None:
            return {}
        return await repository.open_memberships(session, caller.user_id)

    async def _role_in(
        self, session: AsyncSession, caller: Caller, org_id: UUID, allowed: frozenset[Role]
    ) -> Role:
        roles = await self._scope(session, caller)
        role = roles.get(org_id)
        if role is None:
            raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown organization.", "organizationId")
        if role not in allowed:
            raise Rejected.one(ErrorCode.FORBIDDEN, "Only owners and admins can do this.")
        return role

    # organizations -----------------------------------------------------------------------------

    async def create_organization(
        self, caller: Caller, name: str, slug: str, settings: object
    ) -> Organization:
        user_id = signed_in(caller)
        values = checked(
            name=lambda: validation.text(name, "name", max_length=100),
            slug=lambda: validated_slug(slug),
            settings=lambda: validated_settings(settings or {}),
        )
        org = Organization(id=uuid4(), **values)
        try:
            async with self.db.transaction(caller) as session:
                await set_local(session, "app.org_id", org.id)
                session.add(org)
                await session.flush()
                session.add(Membership(org_id=org.id, user_id=user_id, role=Role.OWNER.value))
                if await session.get(ActiveOrganization, user_id) is None:
                    session.add(ActiveOrganization(user_id=user_id, org_id=org.id))
                await self._announce(session, org.id, {user_id: Role.OWNER.value})
                await stage_slug(session, org.id, org.slug, org.updated_at, org.name)
        except IntegrityError:
            raise Rejected.one(TenancyErrorCode.SLUG_TAKEN, "This slug is taken.", "slug") from None
        return org

    async def update_organization(
        self, caller: Caller, org_id: UUID, changes: dict[str, Any]
    ) -> Organization:
        checks: dict[str, Callable[[Any], object]] = {
            "name": lambda v: validation.text(v, "name", max_length=100),
            "slug": validated_slug,
            "settings": validated_settings,
        }
        values = {k: checks[k](v) for k, v in changes.items() if v is not None}
        try:
            async with self.db.transaction(caller) as session:
                await self._role_in(session, caller, org_id, _MANAGERS)
                org = existing(await session.get(Organization, org_id), "organization")
                for key, value in values.items():
                    setattr(org, key, value)
                org.updated_at = utcnow()
                session.add(org)
                if "slug" in values or "name" in values:
                    await stage_slug(session, org_id, org.slug, org.updated_at, org.name)
        except IntegrityError:
            raise Rejected.one(TenancyErrorCode.SLUG_TAKEN, "This slug is taken.", "slug") from None
        return org

    async def delete_organization(self, caller: Caller, org_id: UUID) -> None:
        async with self.db.transaction(caller) as session:
            await self._role_in(session, caller, org_id, frozenset({Role.OWNER}))
            await session.delete(existing(await session.get(Organization, org_id), "organization"))
            await self._announce(session, org_id, {})
            await stage_slug(session, org_id, None, utcnow(), None)
            # Routers stop honouring the organization's API keys at once.
            gone = {"event": "organization_deleted", "org_id": str(org_id)}
            await stage_announcement(session, CHANGED_CHANNEL, gone)
            await stage_membership_change(session, MembershipEvent.ORGANIZATION_DELETED, org_id)

    async def organizations(self, caller: Caller, ids: list[UUID]) -> list[Organization | None]:
        """Organizations by id, in order; None where the caller is not a member."""
        async with self.db.transaction(caller) as session:
            await self._scope(session, caller)
            found = await repository.organizations_by_id(session, ids)
        return [found.get(i) for i in ids]

    async def organization_by_slug(self, caller: Caller, slug: str) -> Organization | None:
        async with self.db.transaction(caller) as session:
            await self._scope(session, caller)
            return await repository.organization_by_slug(session, slug)

    async def organizations_of(
        self, caller: Caller, user_ids: list[UUID]
    ) -> list[list[Organization]]:
        """Each user's organizations; a user's memberships are visible to that user only."""
        async with self.db.transaction(caller) as session:
            await self._scope(session, caller)
            mine = await repository.organizations_of(session, caller.user_id)
        return [mine if user_id == caller.user_id else [] for user_id in user_ids]

    async def current_organization(self, caller: Caller) -> Organization | None:
        """The caller's organization: a key's own, else the user's chosen or first one."""
        async with self.db.transaction(caller) as session:
            if caller.org_id is not None:
                return await session.get(Organization, caller.org_id)
            roles = await self._scope(session, caller)
            if not roles:
                return None
            active = await session.get(ActiveOrganization, caller.user_id)
            chosen = active.org_id if active and active.org_id in roles else next(iter(roles))
            return await session.get(Organization, chosen)

    async def set_active_organization(self, caller: Caller, org_id: UUID) -> Organization:
        user_id = signed_in(caller)
        async with self.db.transaction(caller) as session:
            await self._role_in(session, caller, org_id, frozenset(Role))
            active = await session.get(ActiveOrganization, user_id)
            if active is None:
                session.add(ActiveOrganization(user_id=user_id, org_id=org_id))
            else:
                active.org_id = org_id
                session.add(active)
            return existing(await session.get(Organization, org_id), "organization")

    # members -----------------------------------------------------------------------------------

    async def _announce(
        self, session: AsyncSession, org_id: UUID, roles: Mapping[UUID, str]
    ) -> None:
        """Once the change is committed, tell notifications and workers (with their roles:
        requests and approvals go to role holders) and auth who the members are now."""
        as_of = utcnow()
        await stage_members(session, org_id, roles, as_of)
        await stage_auth_members(session, org_id, list(roles), as_of)
        await stage_workers_members(session, org_id, roles, as_of)

    async def members(self, caller: Caller, org_ids: list[UUID]) -> list[list[Membership]]:
        async with self.db.transaction(caller) as session:
            await self._scope(session, caller)
            by_org = await repository.memberships_of(session, org_ids)
        return [by_org.get(i, []) for i in org_ids]

    async def _membership(self, session: AsyncSession, org_id: UUID, user_id: UUID) -> Membership:
        return existing(await repository.locked_membership(session, org_id, user_id), "member")

    async def change_role(
        self, caller: Caller, org_id: UUID, user_id: UUID, role: Role
    ) -> Membership:
        async with self.db.transaction(caller) as session:
            mine = await self._role_in(session, caller, org_id, _MANAGERS)
            target = await self._membership(session, org_id, user_id)
            if Role.OWNER in (role, Role(target.role)) and mine is not Role.OWNER:
                raise Rejected.one(
                    ErrorCode.FORBIDDEN, "Only owners can grant or remove ownership."
                )
            if target.role == Role.OWNER.value and role is not Role.OWNER:
                await self._keep_an_owner(session, org_id)
            target.role = role.value
            session.add(target)
            await session.flush()
            await self._announce(session, org_id, await repository.member_roles(session, org_id))
            await stage_membership_change(session, MembershipEvent.ROLE_CHANGED, org_id, user_id)
            return target

    async def _keep_an_owner(self, session: AsyncSession, org_id: UUID) -> None:
        if await repository.owners(session, org_id) <= 1:
            raise Rejected.one(
                TenancyErrorCode.LAST_OWNER,
                "An organization needs an owner; make someone else owner first.",
            )

    async def remove_member(self, caller: Caller, org_id: UUID, user_id: UUID) -> None:
        """Members may leave; owners and admins may remove others (only owners remove owners)."""
        leaving = user_id == caller.user_id
        async with self.db.transaction(caller) as session:
            allowed = frozenset(Role) if leaving else _MANAGERS
            mine = await self._role_in(session, caller, org_id, allowed)
            target = await self._membership(session, org_id, user_id)
            if target.role == Role.OWNER.value:
                if not leaving and mine is not Role.OWNER:
                    raise Rejected.one(ErrorCode.FORBIDDEN, "Only owners can remove an owner.")
                await self._keep_an_owner(session, org_id)
            await session.delete(target)
            await session.flush()
            await self._announce(session, org_id, await repository.member_roles(session, org_id))
            await stage_membership_change(session, MembershipEvent.MEMBER_REMOVED, org_id, user_id)

    # invitations -------------------------------------------------------------------------------

    async def invite(self, caller: Caller, org_id: UUID, email: str, role: Role) -> Invitation:
        email = validation.email(email)
        async with self.db.transaction(caller) as session:
            mine = await self._role_in(session, caller, org_id, _MANAGERS)
            if role is Role.OWNER and mine is not Role.OWNER:
                raise Rejected.one(ErrorCode.FORBIDDEN, "Only owners can invite owners.", "role")
            org = existing(await session.get(Organization, org_id), "organization")
            token, hashed = new_token()
            invitation = Invitation(
                org_id=org_id,
                email=email,
                role=role.value,
                token_hash=hashed,
                invited_by=signed_in(caller),
                expires_at=utcnow()
                + timedelta(seconds=self.settings.tenancy.invitation_ttl_seconds),
            )
            session.add(invitation)
            link = f"{self.settings.core.public_url}/invitations/accept?token={token}"
            email_request = NotificationRequest(
                template_key="invitation",
                category="invitation",
                recipients=[Recipient(email=email)],
                idempotency_key=f"tenancy:invitation:{invitation.id}",
                data={"organization": org.name, "link": link},
                org_id=org_id,
            )
            await stage_notification(session, email_request)
        return invitation

    async def invitations(self, caller: Caller, org_id: UUID) -> list[Invitation]:
        """Pending invitations, for owners and admins."""
        async with self.db.transaction(caller) as session:
            roles = await self._scope(session, caller)
            if roles.get(org_id) not in _MANAGERS:
                return []
            return await repository.pending_invitations(session, org_id, utcnow())

    async def accept_invitation(self, caller: Caller, token: str) -> Organization:
        user_id = signed_in(caller)
        hashed = token_hash(token)
        try:
            async with self.db.transaction(caller) as session:
                invitation = await repository.locked_invitation(session, hashed)
                if (
                    invitation is None
                    or invitation.accepted_at is not None
                    or invitation.revoked_at is not None
                    or invitation.expires_at < utcnow()
                ):
                    raise Rejected.one(
                        ErrorCode.INVALID_TOKEN,
                        "This invitation is invalid or has expired.",
                        "token",
                    )
                _check_invitee(caller, invitation)
                await set_local(session, "app.org_id", invitation.org_id)
                invitation.accepted_at = utcnow()
                invitation.accepted_by = user_id
                session.add(invitation)
                session.add(
                    Membership(org_id=invitation.org_id, user_id=user_id, role=invitation.role)
                )
                await session.flush()
                org = existing(await session.get(Organization, invitation.org_id), "organization")
                members = await repository.member_roles(session, org.id)
                await self._announce(session, org.id, members)
        except IntegrityError:
            raise Rejected.one(
                TenancyErrorCode.ALREADY_MEMBER, "You are already a member of this organization."
            ) from None
        return org

    async def revoke_invitation(self, caller: Caller, invitation_id: UUID) -> Invitation:
        async with self.db.transaction(caller) as session:
            await self._scope(session, caller)
            invitation = existing(await session.get(Invitation, invitation_id), "invitation")
            await self._role_in(session, caller, invitation.org_id, _MANAGERS)
            if invitation.accepted_at is None and invitation.revoked_at is None:
                invitation.revoked_at = utcnow()
                session.add(invitation)
            return invitation
