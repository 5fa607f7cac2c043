"""ARQ jobs of billing: applying received Stripe events, and a sweep for events whose job was
lost (received, never applied)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron
from arq.worker import Function, func

from subgraphs.billing.app import gateway_for
from subgraphs.billing.contract import APPLY_EVENT_JOB, APPLY_PENDING_JOB
from subgraphs.billing.plans import catalogue
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database
from subgraphs.kernel.settings import Settings

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


def functions() -> list[Function]:
    return [func(apply_event, name=APPLY_EVENT_JOB)]


def cron_jobs() -> list[CronJob]:
    return [cron(apply_pending, name=APPLY_PENDING_JOB, second=30, keep_result=0)]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    ctx["billing"] = BillingService(db, ctx["redis"], catalogue(), gateway_for(settings))
