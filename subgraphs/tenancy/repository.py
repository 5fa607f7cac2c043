"""The tenancy tables: the queries and locking reads the service runs inside its transactions.
No rules here; the service decides what to read and write."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import set_local
from subgraphs.tenancy.models import Invitation, Membership, Organization, Role


async def open_memberships(session: AsyncSession, user_id: UUID) -> dict[UUID, Role]:
    """The user's role in each of their organizations; opens those organizations to this
    transaction's queries."""
    rows = await session.exec(select(Membership).where(Membership.user_id == user_id))
    roles = {m.org_id: Role(m.role) for m in rows}
    await set_local(session, "app.member_orgs", ",".join(map(str, roles)))
    return roles


async def organizations_by_id(session: AsyncSession, ids: list[UUID]) -> dict[UUID, Organization]:
    rows = await session.exec(select(Organization).where(col(Organization.id).in_(ids)))
    return {o.id: o for o in rows}


async def organization_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    rows = await session.exec(select(Organization).where(Organization.slug == slug))
    return rows.first()


async def organizations_of(session: AsyncSession, user_id: UUID | None) -> list[Organization]:
    """The user's organizations, in the order they joined them."""
    rows = await session.exec(
        select(Membership, Organization)
        .join(Organization, col(Organization.id) == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(col(Membership.created_at))
    )
    return [org for _, org in rows]


async def member_roles(session: AsyncSession, org_id: UUID) -> dict[UUID, str]:
    """Each member of the organization with their role."""
    rows = await session.exec(
        select(Membership.user_id, Membership.role).where(Membership.org_id == org_id)
    )
    return dict(rows.all())


async def memberships_of(
    session: AsyncSession, org_ids: list[UUID]
) -> dict[UUID, list[Membership]]:
    """Each organization's memberships, oldest first."""
    rows = await session.exec(
        select(Membership)
        .where(col(Membership.org_id).in_(org_ids))
        .order_by(col(Membership.created_at))
    )
    by_org: dict[UUID, list[Membership]] = {}
    for membership in rows:
        by_org.setdefault(membership.org_id, []).append(membership)
    return by_org


async def owners(session: AsyncSession, org_id: UUID) -> int:
    count = await session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org_id, Membership.role == Role.OWNER.value)
    )
    return int(count.one())


async def locked_membership(
    session: AsyncSession, org_id: UUID, user_id: UUID
) -> Membership | None:
    rows = await session.exec(
        select(Membership)
        .where(Membership.org_id == org_id, Membership.user_id == user_id)
        .with_for_update()
    )
    return rows.first()


async def pending_invitations(
    session: AsyncSession, org_id: UUID, now: datetime
) -> list[Invitation]:
    """The invitations neither accepted, revoked nor expired at ``now``, oldest first."""
    rows = await session.exec(
        select(Invitation)
        .where(
            Invitation.org_id == org_id,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
            Invitation.expires_at > now,
        )
        .order_by(col(Invitation.created_at))
    )
    return list(rows)


async def locked_invitation(session: AsyncSession, hashed: str) -> Invitation | None:
    """The invitation whose token has this hash, locked; row security shows an invitation to
    someone not yet a member only by its token's hash."""
    await set_local(session, "app.token_hash", hashed)
    rows = await session.exec(
        select(Invitation).where(Invitation.token_hash == hashed).with_for_update()
    )
    return rows.first()
