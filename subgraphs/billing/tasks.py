"""ARQ jobs of billing: applying received Stripe events, and a sweep for events whose job was
lost (received, never applied)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron
from arq.worker import Function, func

from subgraphs.billing.contract import APPLY_EVENT_JOB, APPLY_PENDING_JOB
from subgraphs.billing.gateway import gateway_for
from subgraphs.billing.service import BillingService
from subgraphs.billing.settings import Settings
from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs

Ctx = dict[str, Any]
# An event still unapplied this long after it arrived lost its job (Redis restarted, say).
_LOST_AFTER = timedelta(minutes=1)


async def apply_event(ctx: Ctx, event_id: str) -> bool:
    service: BillingService = ctx["billing"]
    return await service.apply_event(event_id)


async def apply_pending(ctx: Ctx) -> int:
    """Apply the events whose job was lost; returns how many were applied."""
    service: BillingService = ctx["billing"]
    applied = [await service.apply_event(e) for e in await service.pending_events(_LOST_AFTER)]
    return sum(applied)


def functions(_: Settings) -> list[Function]:
    return [func(apply_event, name=APPLY_EVENT_JOB)]


def cron_jobs(_: Settings) -> list[CronJob]:
    return [cron(apply_pending, name=APPLY_PENDING_JOB, second=30, keep_result=0)]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    gateway = gateway_for(settings.billing)
    ctx["billing"] = BillingService(db, ctx["redis"], settings, gateway)


JOBS = Jobs(functions=functions, cron=cron_jobs, startup=startup)
