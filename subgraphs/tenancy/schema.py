"""The tenancy subgraph's GraphQL schema: Organization, memberships, invitations, and the
organizations of a User (an entity owned by auth)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    USER_ERROR,
    UserError,
    described_enum,
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
RoleType = described_enum(
    Role,
    "Role",
    "What a member may do in an organization.",
    {
        Role.OWNER: "Everything, including billing, ownership and deleting the organization.",
        Role.ADMIN: "Manages members (not owners), invitations, API keys and settings.",
        Role.MEMBER: "Works with the organization's data; manages nothing.",
    },
)


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
    code: enum.StrEnum = strawberry.field(
        graphql_type=error_codes(TenancyErrorCode), description=CODE
    )


@strawberry.federation.type(keys=["id"])
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
    id: strawberry.ID = strawberry.field(description="The membership's id (a UUID).")
    role: Role = strawberry.field(description="The member's role here.")
    user: User = strawberry.field(description="The member.")
    created_at: datetime = strawberry.field(description="When they joined.")
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

    @strawberry.field(description="The organization; null when you cannot see it.")
    async def organization(self, info: Info) -> Organization | None:
        found = await _organizations(info).load(self.org_id)
        return Organization.of(found) if found else None


@strawberry.type(
    description="An emailed offer to join an organization; its link's token is accepted by"
    " whoever signs in with it."
)
class Invitation:
    id: strawberry.ID = strawberry.field(description="The invitation's id (a UUID).")
    email: str = strawberry.field(description="Where it was sent, lower-cased.")
    role: Role = strawberry.field(description="The role the invitee gets.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    expires_at: datetime = strawberry.field(
        description="When its link stops working (7 days after sending by default)."
    )
    accepted_at: datetime | None = strawberry.field(
        description="When it was accepted; null while it is not."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked; null while it is not."
    )

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
    id: strawberry.ID = strawberry.field(description="The organization's id (a UUID).")
    name: str = strawberry.field(description="Its display name, up to 100 characters.")
    slug: str = strawberry.field(
        description="Its unique short name for URLs: 3 to 63 lowercase letters, digits and"
        " inner hyphens."
    )
    plan: str
    settings: JSON = strawberry.field(
        description="`locale` (`en`, `pt-BR`), `timezone` (IANA name), `support_email` (or"
        " null) and `allowed_email_domains` (at most 20)."
    )
    created_at: datetime = strawberry.field(description="When it was created.")

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

    @strawberry.federation.field(
        requires_scopes=[["members:read"]],
        description="Its members, oldest first (an API key needs `members:read`).",
    )
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


@strawberry.type(description="The result of a mutation that returns an organization.")
class OrganizationPayload:
    organization: Organization | None = strawberry.field(
        default=None, description="The organization; null when `errors` is not empty."
    )
    errors: list[TenancyUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a mutation that changes a membership.")
class MembershipPayload:
    membership: Membership | None = strawberry.field(
        default=None, description="The membership as changed; null when `errors` is not empty."
    )
    errors: list[TenancyUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a mutation that sends or revokes an invitation.")
class InvitationPayload:
    invitation: Invitation | None = strawberry.field(
        default=None, description="The invitation; null when `errors` is not empty."
    )
    errors: list[TenancyUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a tenancy action that returns nothing else.")
class TenancyActionPayload:
    ok: bool = strawberry.field(
        default=False, description="True when it was done; false when `errors` says why not."
    )
    errors: list[TenancyUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A new organization.")
class CreateOrganizationInput:
    name: str = strawberry.field(description="Its display name, up to 100 characters.")
    slug: str = strawberry.field(
        description="3 to 63 lowercase letters, digits and inner hyphens, unique; some names"
        " are reserved."
    )
    settings: JSON | None = strawberry.field(
        default=None,
        description="See `Organization.settings`; other keys are refused. Null: the defaults.",
    )


@strawberry.input(description="Changes to an organization; a null field is left as it is.")
class UpdateOrganizationInput:
    id: strawberry.ID = strawberry.field(description="The organization's id.")
    name: str | None = strawberry.field(
        default=None, description="A new display name, up to 100 characters."
    )
    slug: str | None = strawberry.field(
        default=None, description="A new slug, under the same rules as at creation."
    )
    settings: JSON | None = strawberry.field(
        default=None, description="New settings, replacing the old ones whole."
    )


@strawberry.input(description="Whom to invite, and as what.")
class InviteMemberInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization's id.")
    email: str = strawberry.field(description="Where the invitation goes.")
    role: Role = strawberry.field(
        default=Role.MEMBER, description="The role they get; only owners invite owners."
    )


@strawberry.input(description="A member of an organization.")
class MemberInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization's id.")
    user_id: strawberry.ID = strawberry.field(description="The member's user id.")


@strawberry.input(description="A member and their new role.")
class ChangeMemberRoleInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization's id.")
    user_id: strawberry.ID = strawberry.field(description="The member's user id.")
    role: Role = strawberry.field(
        description="The new role; only owners grant or take away ownership."
    )


def _org(org: models.Organization) -> OrganizationPayload:
    return OrganizationPayload(organization=Organization.of(org))


@strawberry.type(description=QUERY)
class Query:
    @strawberry.federation.field(
        description="An organization you belong to; null otherwise.",
        requires_scopes=[["organization:read"]],
    )
    async def organization(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> Organization | None:
        return await Organization.resolve_reference(info, id)

    @strawberry.federation.field(
        requires_scopes=[["organization:read"]],
        description="An organization you belong to, by slug; null otherwise.",
    )
    async def organization_by_slug(
        self, info: Info, slug: Annotated[str, strawberry.argument(description="Its slug.")]
    ) -> Organization | None:
        found = await info.context.services.organization_by_slug(info.context.caller, slug)
        return Organization.of(found) if found else None

    @strawberry.federation.field(
        description="The organization you are working in: an API key's own; for a user the one"
        " `X-Organization-Id` names, else the active one, else the first joined; null when none.",
        requires_scopes=[["organization:read"]],
    )
    async def current_organization(self, info: Info) -> Organization | None:
        found = await info.context.services.current_organization(info.context.caller)
        return Organization.of(found) if found else None


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        authenticated=True,
        description="Create an organization owned by you; it becomes your active one if you"
        " had none. Errors: `INVALID_INPUT`, `SLUG_TAKEN`.",
    )
    @rejections_as(OrganizationPayload)
    async def create_organization(
        self,
        info: Info,
        input: Annotated[
            CreateOrganizationInput, strawberry.argument(description="The new organization.")
        ],
    ) -> OrganizationPayload:
        ctx = info.context
        org = await ctx.services.create_organization(
            ctx.caller, input.name, input.slug, input.settings
        )
        return _org(org)

    @strawberry.federation.mutation(
        authenticated=True,
        description="Owners and admins. Errors: `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`,"
        " `SLUG_TAKEN`.",
    )
    @rejections_as(OrganizationPayload)
    async def update_organization(
        self,
        info: Info,
        input: Annotated[UpdateOrganizationInput, strawberry.argument(description="The changes.")],
    ) -> OrganizationPayload:
        ctx = info.context
        changes = {"name": input.name, "slug": input.slug, "settings": input.settings}
        org_id = identifier(input.id, "id")
        return _org(await ctx.services.update_organization(ctx.caller, org_id, changes))

    @strawberry.federation.mutation(
        authenticated=True,
        description="Owners only; everything the organization holds goes, its API keys stop"
        " working at once. Errors: `NOT_FOUND`, `FORBIDDEN`.",
    )
    @rejections_as(TenancyActionPayload)
    async def delete_organization(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The organization's id.")],
    ) -> TenancyActionPayload:
        await info.context.services.delete_organization(info.context.caller, identifier(id, "id"))
        return TenancyActionPayload(ok=True)

    @strawberry.federation.mutation(
        authenticated=True,
        description="The organization you act in when a request names none"
        " (`X-Organization-Id`). Errors: `NOT_FOUND`.",
    )
    @rejections_as(OrganizationPayload)
    async def set_active_organization(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="An organization you belong to.")
        ],
    ) -> OrganizationPayload:
        org_id = identifier(organization_id, "organizationId")
        return _org(
            await info.context.services.set_active_organization(info.context.caller, org_id)
        )

    @strawberry.federation.mutation(
        authenticated=True,
        description="Owners and admins: email an invitation link. Errors: `INVALID_INPUT`,"
        " `NOT_FOUND`, `FORBIDDEN`.",
    )
    @rejections_as(InvitationPayload)
    async def invite_member(
        self,
        info: Info,
        input: Annotated[InviteMemberInput, strawberry.argument(description="The invitation.")],
    ) -> InvitationPayload:
        ctx = info.context
        org_id = identifier(input.organization_id, "organizationId")
        invitation = await ctx.services.invite(ctx.caller, org_id, input.email, input.role)
        return InvitationPayload(invitation=Invitation.of(invitation))

    @strawberry.federation.mutation(
        authenticated=True,
        description="Join the organization of an invitation, with its role; only the invited"
        " address, verified, may. Errors: `INVALID_TOKEN`, `INVITATION_FOR_ANOTHER_EMAIL`,"
        " `EMAIL_NOT_VERIFIED`, `ALREADY_MEMBER`.",
    )
    @rejections_as(OrganizationPayload)
    async def accept_invitation(
        self,
        info: Info,
        token: Annotated[str, strawberry.argument(description="The token of the emailed link.")],
    ) -> OrganizationPayload:
        return _org(await info.context.services.accept_invitation(info.context.caller, token))

    @strawberry.federation.mutation(
        authenticated=True,
        description="Owners and admins: the invitation's link stops working (an accepted one"
        " is left as it is). Errors: `NOT_FOUND`, `FORBIDDEN`.",
    )
    @rejections_as(InvitationPayload)
    async def revoke_invitation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The invitation's id.")],
    ) -> InvitationPayload:
        ctx = info.context
        invitation = await ctx.services.revoke_invitation(ctx.caller, identifier(id, "id"))
        return InvitationPayload(invitation=Invitation.of(invitation))

    @strawberry.federation.mutation(
        authenticated=True,
        description="Owners and admins; only owners change ownership. Errors: `NOT_FOUND`,"
        " `FORBIDDEN`, `LAST_OWNER`.",
    )
    @rejections_as(MembershipPayload)
    async def change_member_role(
        self,
        info: Info,
        input: Annotated[
            ChangeMemberRoleInput, strawberry.argument(description="The member and role.")
        ],
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
        authenticated=True,
        description="Remove a member (owners and admins; only owners remove owners), or"
        " yourself to leave. Errors: `NOT_FOUND`, `FORBIDDEN`, `LAST_OWNER`.",
    )
    @rejections_as(TenancyActionPayload)
    async def remove_member(
        self,
        info: Info,
        input: Annotated[MemberInput, strawberry.argument(description="Who leaves.")],
    ) -> TenancyActionPayload:
        await info.context.services.remove_member(
            info.context.caller,
            identifier(input.organization_id, "organizationId"),
            identifier(input.user_id, "userId"),
        )
        return TenancyActionPayload(ok=True)


schema = federated_schema(Query, Mutation, types=[User, Organization])
