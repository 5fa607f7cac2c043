"""ARQ jobs of notifications: other subgraphs' requests become notifications, each email or SMS
delivery is sent, retried with exponential backoff, or recorded as failed, and tenancy's lists
of members, themes' email branding and billing's word on white-label emails are recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from arq.worker import Function, Retry, func

from core.caller import Caller
from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs, retried_if_unavailable
from subgraphs.notifications.channels import senders
from subgraphs.notifications.contract import (
    BRANDING_JOB,
    MEMBERS_JOB,
    NOTIFY_JOB,
    WHITE_LABEL_JOB,
    Branding,
    NotificationRequest,
)
from subgraphs.notifications.delivery import DeliveryService
from subgraphs.notifications.service import DELIVER_JOB, NotificationService
from subgraphs.notifications.settings import Settings

Ctx = dict[str, Any]


async def notify(ctx: Ctx, payload: dict[str, Any]) -> int:
    service: NotificationService = ctx["notifications"]
    async with retried_if_unavailable(ctx):
        return len(await service.notify(NotificationRequest.from_job(payload)))


async def deliver(ctx: Ctx, delivery_id: str, user_id: str | None, org_id: str | None) -> None:
    service: DeliveryService = ctx["deliveries"]
    recipient = Caller(
        user_id=UUID(user_id) if user_id else None, org_id=UUID(org_id) if org_id else None
    )
    async with retried_if_unavailable(ctx):
        wait = await service.deliver(UUID(delivery_id), recipient)
    if wait is not None:
        raise Retry(defer=wait)


async def organization_members(
    ctx: Ctx, org_id: str, user_ids: list[str], as_of: str, roles: dict[str, str] | None = None
) -> None:
    """``roles`` is absent from announcements queued before roles were announced."""
    service: NotificationService = ctx["notifications"]
    members = [UUID(u) for u in user_ids]
    stamp = datetime.fromisoformat(as_of)
    async with retried_if_unavailable(ctx):
        await service.set_members(UUID(org_id), members, stamp, roles)


async def organization_branding(ctx: Ctx, org_id: str, branding: dict[str, Any]) -> None:
    service: NotificationService = ctx["notifications"]
    async with retried_if_unavailable(ctx):
        await service.set_branding(UUID(org_id), Branding(**branding))


async def organization_white_label(ctx: Ctx, org_id: str, enabled: bool, as_of: str) -> None:
    service: NotificationService = ctx["notifications"]
    async with retried_if_unavailable(ctx):
        await service.set_white_label(UUID(org_id), enabled, datetime.fromisoformat(as_of))


def functions(settings: Settings) -> list[Function]:
    # A worker killed mid-send uses up an ARQ try without a recorded attempt: leave room for it.
    tries = 2 * settings.notifications.delivery_max_attempts + 1
    # Short timeouts: ARQ runs the job of a killed worker again once its timeout has passed.
    # No result is kept: a request may carry a one-time link.
    short = {"timeout": settings.core.job_timeout_seconds, "keep_result": 0}
    return [
        func(notify, name=NOTIFY_JOB, **short),
        func(deliver, name=DELIVER_JOB, max_tries=tries, **short),
        func(organization_members, name=MEMBERS_JOB, **short),
        func(organization_branding, name=BRANDING_JOB, **short),
        func(organization_white_label, name=WHITE_LABEL_JOB, **short),
    ]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    client = httpx.AsyncClient()
    ctx["http"] = client
    ctx["notifications"] = NotificationService(db, ctx["redis"], settings)
    ctx["deliveries"] = DeliveryService(db, settings, senders(settings, client))


async def shutdown(ctx: Ctx) -> None:
    # A worker stopped before its startup ran has no client to close.
    client: httpx.AsyncClient | None = ctx.pop("http", None)
    if client is not None:
        await client.aclose()


JOBS = Jobs(functions=functions, startup=startup, shutdown=shutdown)
