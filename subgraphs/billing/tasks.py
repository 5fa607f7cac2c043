"""ARQ jobs of billing: applying received Stripe events, a sweep for events whose job was lost
(received, never applied), usage reported by other subgraphs, the flush of the router's
hourly request counters into the usage ledger, the ledger reported to Stripe, and a sweep
announcing the plans that grace days running out changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron
from arq.worker import Function, func

from subgraphs.billing.contract import (
    ANNOUNCE_LAPSES_JOB,
    APPLY_EVENT_JOB,
    APPLY_PENDING_JOB,
    FLUSH_REQUESTS_JOB,
    RECORD_USAGE_JOB,
    REPORT_USAGE_JOB,
)
from subgraphs.billing.gateway import gateway_for
from subgraphs.billing.service import BillingService
from subgraphs.billing.settings import Settings
from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs, retried_if_unavailable
from subgraphs.kernel.usage import UsageRecord

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


async def record_usage(ctx: Ctx, payload: dict[str, Any]) -> bool:
    """Keep a use another subgraph reported; False when it was kept before."""
    service: BillingService = ctx["billing"]
    async with retried_if_unavailable(ctx):
        return await service.ledger.record(UsageRecord.from_job(payload))


async def flush_requests(ctx: Ctx) -> int:
    """Move the router's counters of finished hours into the ledger; how many were moved."""
    service: BillingService = ctx["billing"]
    return await service.ledger.flush_requests()


async def report_usage(ctx: Ctx) -> int:
    """Send Stripe the ledger's uses not reported yet; how many meter events it accepted."""
    service: BillingService = ctx["billing"]
    return await service.meter_reports.report()


async def announce_lapses(ctx: Ctx) -> int:
    """Announce the free plan of organizations whose grace days ran out; how many."""
    service: BillingService = ctx["billing"]
    return len(await service.announce_lapses())


def functions(settings: Settings) -> list[Function]:
    return [
        func(apply_event, name=APPLY_EVENT_JOB),
        func(
            record_usage,
            name=RECORD_USAGE_JOB,
            timeout=settings.core.job_timeout_seconds,
            keep_result=0,
        ),
    ]


def cron_jobs(_: Settings) -> list[CronJob]:
    return [
        cron(apply_pending, name=APPLY_PENDING_JOB, second=30, keep_result=0),
        # Every minute: the usage query reads unflushed counters too, so this bounds Redis's share.
        cron(flush_requests, name=FLUSH_REQUESTS_JOB, second=15, keep_result=0),
        # Every five minutes, after a flush: a failed run is tried again by the next.
        cron(
            report_usage,
            name=REPORT_USAGE_JOB,
            minute=set(range(0, 60, 5)),
            second=45,
            keep_result=0,
            unique=True,
        ),
        # Hourly: the router sees a lapse within its plan cache; workers, themes and
        # notifications keep what was announced until this tells them.
        cron(
            announce_lapses,
            name=ANNOUNCE_LAPSES_JOB,
            minute=7,
            second=20,
            keep_result=0,
            unique=True,
        ),
    ]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    gateway = gateway_for(settings.billing)
    ctx["billing"] = BillingService(db, ctx["redis"], settings, gateway)


JOBS = Jobs(functions=functions, cron=cron_jobs, startup=startup)
