"""What other parties may know of tenancy: the channel on which it announces who left an
organization, whose role changed and which organization was deleted, and the codes its
mutations return besides the kernel's."""

from __future__ import annotations

import enum
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.errors import Code
from subgraphs.kernel.outbox import stage_announcement

MEMBERSHIP_CHANNEL = "vetrai:tenancy:memberships"


class MembershipEvent(enum.StrEnum):
    MEMBER_REMOVED = "member_removed"
    ROLE_CHANGED = "role_changed"
    ORGANIZATION_DELETED = "organization_deleted"


class TenancyErrorCode(Code):
    SLUG_TAKEN = "SLUG_TAKEN", "An organization has this slug."
    ALREADY_MEMBER = "ALREADY_MEMBER", "The invitee is a member already."
    LAST_OWNER = "LAST_OWNER", "The organization would be left without an owner."
    INVITATION_FOR_ANOTHER_EMAIL = (
        "INVITATION_FOR_ANOTHER_EMAIL",
        "The invitation was sent to another address than the signed-in user's.",
    )
    EMAIL_NOT_VERIFIED = (
        "EMAIL_NOT_VERIFIED",
        "The signed-in user's address is not verified yet (verify it, then refresh the tokens).",
    )


async def stage_membership_change(
    session: AsyncSession, event: MembershipEvent, org_id: UUID, user_id: UUID | None = None
) -> None:
    """Announce, once the change commits, that what a cache knows of ``user_id`` in ``org_id``
    (of everyone in it, without a user) is stale."""
    message = {"event": event.value, "org_id": str(org_id), "user_id": user_id and str(user_id)}
    await stage_announcement(session, MEMBERSHIP_CHANNEL, message)
