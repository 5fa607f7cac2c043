"""ARQ jobs of notifications: other subgraphs' requests become notifications, and each email or
SMS delivery is sent, retried with exponential backoff, or recorded as failed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from arq.worker import Function, Retry, func

from subgraphs.kernel.caller import Caller
from subgraphs.kernel.db import Database
from subgraphs.kernel.notify import NOTIFY_JOB, NotificationRequest
from subgraphs.kernel.settings import Settings
from subgraphs.notifications.channels import senders
from subgraphs.notifications.service import DELIVER_JOB, NotificationService

Ctx = dict[str, Any]


async def notify(ctx: Ctx, payload: dict[str, Any]) -> int:
    service: NotificationService = ctx["notifications"]
    return len(await service.notify(NotificationRequest.from_job(payload)))


async def deliver(ctx: Ctx, delivery_id: str, user_id: str | None, org_id: str | None) -> None:
    service: NotificationService = ctx["notifications"]
    recipient = Caller(
        user_id=UUID(user_id) if user_id else None, org_id=UUID(org_id) if org_id else None
    )
    wait = await service.deliver(UUID(delivery_id), recipient)
    if wait is not None:
        raise Retry(defer=wait)


def functions(settings: Settings) -> list[Function]:
    # A worker killed mid-send uses up an ARQ try without a recorded attempt: leave room for it.
    tries = 2 * settings.delivery_max_attempts + 1
    return [
        # No result kept: the request may carry a one-time link.
        func(notify, name=NOTIFY_JOB, keep_result=0),
        func(deliver, name=DELIVER_JOB, max_tries=tries, keep_result=0),
    ]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    client = httpx.AsyncClient()
    ctx["http"] = client
    ctx["notifications"] = NotificationService(
        db, ctx["redis"], settings, senders(settings, client)
    )


async def shutdown(ctx: Ctx) -> None:
    await ctx["http"].aclose()
