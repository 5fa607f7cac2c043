"""What other parties may know of notifications: how a subgraph asks it to notify people (by
user, address, or role in an organization), or tells it who belongs to an organization with
which role, an ARQ job through Redis; the codes it returns.

Callers never touch the notifications schema; the worker turns the request into notifications
and deliveries. A request is handled once per idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.errors import Code
from subgraphs.kernel.outbox import stage_job

NOTIFY_JOB = "notify"
MEMBERS_JOB = "organization_members"


class NotificationsErrorCode(Code):
    MANDATORY_CATEGORY = "MANDATORY_CATEGORY", "This notification category cannot be turned off."


@dataclass(frozen=True)
class Recipient:
    """A user, an address, or both (the address is remembered as the user's)."""

    user_id: UUID | None = None
    email: str | None = None


@dataclass(frozen=True)
class NotificationRequest:
    """``roles``: also every member of ``org_id`` holding one of these roles when the request is
    handled (as tenancy last announced them), so the sender keeps no copy of memberships."""

    template_key: str
    category: str
    recipients: list[Recipient]
    idempotency_key: str
    data: dict[str, Any] = field(default_factory=dict)
    channels: list[str] = field(default_factory=lambda: ["email"])
    org_id: UUID | None = None
    roles: list[str] = field(default_factory=list)

    def as_job(self) -> dict[str, Any]:
        """Plain values only, so any worker version can read the job."""
        payload = asdict(self)
        payload["org_id"] = str(self.org_id) if self.org_id else None
        payload["recipients"] = [
            {"user_id": str(r.user_id) if r.user_id else None, "email": r.email}
            for r in self.recipients
        ]
        return payload

    @classmethod
    def from_job(cls, payload: dict[str, Any]) -> NotificationRequest:
        return cls(
            template_key=payload["template_key"],
            category=payload["category"],
            recipients=[
                Recipient(UUID(r["user_id"]) if r["user_id"] else None, r["email"])
                for r in payload["recipients"]
            ],
            idempotency_key=payload["idempotency_key"],
            data=payload["data"],
            channels=payload["channels"],
            org_id=UUID(payload["org_id"]) if payload["org_id"] else None,
            roles=payload.get("roles") or [],  # absent from jobs queued before roles existed
        )


def job_queue(redis: Redis) -> ArqRedis:
    """An ARQ client sharing ``redis``'s connections."""
    return ArqRedis(redis.connection_pool)


async def enqueue_notification(redis: Redis, queue: str, request: NotificationRequest) -> None:
    await job_queue(redis).enqueue_job(
        NOTIFY_JOB,
        request.as_job(),
        _job_id=f"{NOTIFY_JOB}:{request.idempotency_key}",
        _queue_name=queue,
    )


async def stage_notification(session: AsyncSession, request: NotificationRequest) -> None:
    """Ask for ``request`` in the transaction of the change it reports (sent after commit)."""
    job_id = f"{NOTIFY_JOB}:{request.idempotency_key}"
    await stage_job(session, NOTIFY_JOB, request.as_job(), job_id=job_id)


async def stage_members(
    session: AsyncSession, org_id: UUID, roles: Mapping[UUID, str], as_of: datetime
) -> None:
    """Tell notifications who belongs to an organization, with each member's role, as of a
    membership change, so admins can notify the whole organization and nobody outside it and a
    request can name a role; an older list never wins."""
    members = [str(u) for u in roles]
    by_user = {str(u): role for u, role in roles.items()}
    job_id = f"{MEMBERS_JOB}:{org_id}:{as_of.isoformat()}"
    stamp = as_of.isoformat()
    await stage_job(session, MEMBERS_JOB, str(org_id), members, stamp, by_user, job_id=job_id)


BRANDING_JOB = "organization_branding"
WHITE_LABEL_JOB = "organization_white_label"


@dataclass(frozen=True)
class Branding:
    """What an organization's emails show of its published theme: its colors (``primary``,
    ``primary_foreground``, ...), logo, footer name, and whether to leave out "powered by"."""

    version: int
    colors: dict[str, str]
    logo_url: str | None = None
    name: str | None = None
    white_label: bool = False


async def stage_branding(session: AsyncSession, org_id: UUID, branding: Branding) -> None:
    """Tell notifications an organization's theme as of a publication; a version older than the
    one it holds changes nothing, so a late or repeated job is harmless."""
    job_id = f"{BRANDING_JOB}:{org_id}:{branding.version}"
    await stage_job(session, BRANDING_JOB, str(org_id), asdict(branding), job_id=job_id)


async def stage_white_label(
    session: AsyncSession, org_id: UUID, enabled: bool, as_of: datetime
) -> None:
    """Tell notifications whether an organization's plan grants ``white_label`` as of a plan
    change (billing's word wins over the plan a theme was published under); the latest
    ``as_of`` wins, so a late or repeated job changes nothing."""
    stamp = as_of.isoformat()
    job_id = f"{WHITE_LABEL_JOB}:{org_id}:{stamp}"
    await stage_job(session, WHITE_LABEL_JOB, str(org_id), enabled, stamp, job_id=job_id)
