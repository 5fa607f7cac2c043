"""The tenancy subgraph's GraphQL schema: Organization, memberships, invitations, and the
organizations of a User (an entity owned by auth)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.schema import (
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
    require_scope,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.tenancy import models
from subgraphs.tenancy.contract import TenancyErrorCode
from subgraphs.tenancy.models import Role
from subgraphs.tenancy.service import TenancyService

Info = strawberry.Info[RequestContext[TenancyService], None]
RoleType = strawberry.enum(Role, name="Role")


def _organizations(info: Info) -> Any:
    ctx = info.context
    return loader(ctx, "organizations", lambda ids: ctx.services.organizations(ctx.caller, ids))


async def _members(info: Info, org_id: str) -> list[models.Membership]:
    ctx = info.context
    members = loader(ctx, "members", lambda ids: ctx.services.members(ctx.caller, ids))
    found: list[models.Membership] = await members.load(UUID(org_id))
    return found


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class TenancyUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(TenancyErrorCode))


@strawberry.federation.type(keys=["id"], description="A person, as far as tenancy knows them.")
class User:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    @strawberry.field(description="The organizations the user belongs to (visible to themselves).")
    async def organizations(self, info: Info) -> list[Organization]:
        key = uuid_or_none(self.id)
        if key is None:
            return []
        ctx = info.context
        orgs = loader(
            ctx, "organizations_of", lambda ids: ctx.services.organizations_of(ctx.caller, ids)
        )
        return [Organization.of(o) for o in await orgs.load(key)]


@strawberry.type(description="A user's role in an organization.")
class Membership:
    id: strawberry.ID
    role: Role
    user: User
    created_at: datetime
    org_id: strawberry.Private[UUID]

    @classmethod
    def of(cls, membership: models.Membership) -> Membership:
        return cls(
            id=strawberry.ID(str(membership.id)),
            role=Role(membership.role),
            user=User(id=strawberry.ID(str(membership.user_id))),
            created_at=membership.created_at,
            org_id=membership.org_id,
        )

    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        found = await _organizations(info).load(self.org_id)
        return Organization.of(found) if found else None


@strawberry.type
class Invitation:
    id: strawberry.ID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, invitation: models.Invitation) -> Invitation:
        return cls(
            id=strawberry.ID(str(invitation.id)),
            email=invitation.email,
            role=Role(invitation.role),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            accepted_at=invitation.accepted_at,
            revoked_at=invitation.revoked_at,
        )


@strawberry.federation.type(keys=["id"], description="A tenant: the unit that owns data.")
class Organization:
    id: strawberry.ID
    name: str
    slug: str
    plan: str
    settings: JSON
    created_at: datetime

    @classmethod
    def of(cls, org: models.Organization) -> Organization:
        return cls(
            id=strawberry.ID(str(org.id)),
            name=org.name,
            slug=org.slug,
            plan=org.plan,
            settings=cast(JSON, org.settings),
            created_at=org.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Organization | None:
        key = uuid_or_none(id)
        found = await _organizations(info).load(key) if key else None
        return cls.of(found) if found else None

    @strawberry.federation.field(requires_scopes=[["members:read"]])
    async def members(self, info: Info) -> list[Membership] | None:
        require_scope(info.context.caller, "members:read")
        return [Membership.of(m) for m in await _members(info, self.id)]

    @strawberry.field(description="Your role here; null for an API key.")
    async def viewer_role(self, info: Info) -> Role | None:
        viewer = info.context.caller.user_id
        mine = [m for m in await _members(info, self.id) if m.user_id == viewer]
        return Role(mine[0].role) if mine else None

    @strawberry.federation.field(
        description="Pending invitations; empty unless you are an owner or admin.",
        authenticated=True,
    )
    async def invitations(self, info: Info) -> list[Invitation] | None:
        found = await info.context.services.invitations(info.context.caller, UUID(self.id))
        return [Invitation.of(i) for i in found]


@strawberry.type
class OrganizationPayload:
    organization: Organization | None = None
    errors: list[TenancyUserError] = strawberry.field(default_factory=list)


@strawberry.type
class MembershipPayload:
    membership: Membership | None = None
    errors: list[TenancyUserError] = strawberry.field(default_factory=list)


@strawberry.type
class InvitationPayload:
    invitation: Invitation | None = None
    errors: list[TenancyUserError] = strawberry.field(default_factory=list)


@strawberry.type
class TenancyActionPayload:
    ok: bool = False
    errors: list[TenancyUserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateOrganizationInput:
    name: str
    slug: str
    settings: JSON | None = None


@strawberry.input
class UpdateOrganizationInput:
    id: strawberry.ID
    name: str | None = None
    slug: str | None = None
    settings: JSON | None = None


@strawberry.input
class InviteMemberInput:
    organization_id: strawberry.ID
    email: str
    role: Role = Role.MEMBER


@strawberry.input
class MemberInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class ChangeMemberRoleInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID
    role: Role


def _org(org: models.Organization) -> OrganizationPayload:
    return OrganizationPayload(organization=Organization.of(org))


@strawberry.type
class Query:
    @strawberry.federation.field(
        description="An organization you belong to; null otherwise.",
        requires_scopes=[["organization:read"]],
    )
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        return await Organization.resolve_reference(info, id)

    @strawberry.federation.field(requires_scopes=[["organization:read"]])
    async def organization_by_slug(self, info: Info, slug: str) -> Organization | None:
        found = await info.context.services.organization_by_slug(info.context.caller, slug)
        return Organization.of(found) if found else None

    @strawberry.federation.field(
        description="The organization you are working in.", requires_scopes=[["organization:read"]]
    )
    async def current_organization(self, info: Info) -> Organization | None:
        found = await info.context.services.current_organization(info.context.caller)
        return Organization.of(found) if found else None


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(OrganizationPayload)
    async def create_organization(
        self, info: Info, input: CreateOrganizationInput
    ) -> OrganizationPayload:
        ctx = info.context
        org = await ctx.services.create_organization(
            ctx.caller, input.name, input.slug, input.settings
        )
        return _org(org)

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(OrganizationPayload)
    async def update_organization(
        self, info: Info, input: UpdateOrganizationInput
    ) -> OrganizationPayload:
        ctx = info.context
        changes = {"name": input.name, "slug": input.slug, "settings": input.settings}
        org_id = identifier(input.id, "id")
        return _org(await ctx.services.update_organization(ctx.caller, org_id, changes))

    @strawberry.federation.mutation(
        authenticated=True, description="Owners only; everything the organization holds goes."
    )
    @rejections_as(TenancyActionPayload)
    async def delete_organization(self, info: Info, id: strawberry.ID) -> TenancyActionPayload:
        await info.context.services.delete_organization(info.context.caller, identifier(id, "id"))
        return TenancyActionPayload(ok=True)

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(OrganizationPayload)
    async def set_active_organization(
        self, info: Info, organization_id: strawberry.ID
    ) -> OrganizationPayload:
        org_id = identifier(organization_id, "organizationId")
        return _org(
            await info.context.services.set_active_organization(info.context.caller, org_id)
        )

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(InvitationPayload)
    async def invite_member(self, info: Info, input: InviteMemberInput) -> InvitationPayload:
        ctx = info.context
        org_id = identifier(input.organization_id, "organizationId")
        invitation = await ctx.services.invite(ctx.caller, org_id, input.email, input.role)
        return InvitationPayload(invitation=Invitation.of(invitation))

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(OrganizationPayload)
    async def accept_invitation(self, info: Info, token: str) -> OrganizationPayload:
        return _org(await info.context.services.accept_invitation(info.context.caller, token))

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(InvitationPayload)
    async def revoke_invitation(self, info: Info, id: strawberry.ID) -> InvitationPayload:
        ctx = info.context
        invitation = await ctx.services.revoke_invitation(ctx.caller, identifier(id, "id"))
        return InvitationPayload(invitation=Invitation.of(invitation))

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(MembershipPayload)
    async def change_member_role(
        self, info: Info, input: ChangeMemberRoleInput
    ) -> MembershipPayload:
        ctx = info.context
        membership = await ctx.services.change_role(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            identifier(input.user_id, "userId"),
            input.role,
        )
        return MembershipPayload(membership=Membership.of(membership))

    @strawberry.federation.mutation(
        authenticated=True, description="Remove a member, or yourself to leave."
    )
    @rejections_as(TenancyActionPayload)
    async def remove_member(self, info: Info, input: MemberInput) -> TenancyActionPayload:
        await info.context.services.remove_member(
            info.context.caller,
            identifier(input.organization_id, "organizationId"),
            identifier(input.user_id, "userId"),
        )
        return TenancyActionPayload(ok=True)


schema = federated_schema(Query, Mutation, types=[User, Organization])
