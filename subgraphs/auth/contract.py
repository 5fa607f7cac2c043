"""What other parties may know of auth: how tenancy tells it who belongs to each organization
(an ARQ job through the outbox), the deny-list of ended sessions the router checks, and the
codes its mutations return besides the kernel's."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.errors import Code
from subgraphs.kernel.outbox import stage_job

MEMBERS_JOB = "auth.organization_members"


def ended_session_key(session_id: UUID) -> str:
    """Set while access tokens of this session (their ``sid``) may still be unexpired: the
    session ended (log out, password change or reset, a stolen refresh token)."""
    return f"vetrai:auth:ended-session:{session_id}"


class AuthErrorCode(Code):
    EMAIL_TAKEN = "EMAIL_TAKEN", "An account has this email."
    WEAK_PASSWORD = "WEAK_PASSWORD", "The password is shorter than the minimum or too common."
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS", "Wrong email or password."
    TOO_MANY_ATTEMPTS = (
        "TOO_MANY_ATTEMPTS",
        "Too many failed logins for this email or from this address; wait.",
    )


async def stage_members(
    session: AsyncSession, org_id: UUID, user_ids: list[UUID], as_of: datetime
) -> None:
    """Tell auth who belongs to an organization as of a membership change, so a user is shown
    only to the people who share an organization with them; an older list never wins."""
    members = [str(u) for u in user_ids]
    job_id = f"{MEMBERS_JOB}:{org_id}:{as_of.isoformat()}"
    await stage_job(session, MEMBERS_JOB, str(org_id), members, as_of.isoformat(), job_id=job_id)
