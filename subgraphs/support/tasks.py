"""ARQ jobs of support: the SLA watch every minute, the virus scan of each attachment, and
the embedding of each new ticket."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq.cron import CronJob, cron
from arq.worker import Function, Retry, func

from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs, retried_if_unavailable
from subgraphs.kernel.storage import Storage, StorageError
from subgraphs.support.contract import EMBED_JOB, SCAN_JOB, SLA_WATCH_JOB
from subgraphs.support.scanning import ScanFailed
from subgraphs.support.service import SupportService
from subgraphs.support.settings import Settings
from subgraphs.support.watch import SlaWatch

Ctx = dict[str, Any]


async def sla_watch(ctx: Ctx) -> int:
    """Warnings, breaches and escalations due now; how many alerts were sent."""
    watch: SlaWatch = ctx["sla_watch"]
    async with retried_if_unavailable(ctx):
        return await watch.run()


async def scan_attachment(ctx: Ctx, org_id: str, attachment_id: str) -> str:
    service: SupportService = ctx["support"]
    try:
        async with retried_if_unavailable(ctx):
            return await service.scan_attachment(UUID(org_id), UUID(attachment_id))
    except (ScanFailed, StorageError) as exc:  # clamd or storage back soon: scan later
        raise Retry(defer=ctx["job_try"] * 5) from exc


async def embed_ticket(ctx: Ctx, org_id: str, ticket_id: str) -> bool:
    service: SupportService = ctx["support"]
    async with retried_if_unavailable(ctx):
        return await service.embed_ticket(UUID(org_id), UUID(ticket_id))


def functions(_: Settings) -> list[Function]:
    return [
        func(scan_attachment, name=SCAN_JOB, max_tries=20),
        func(embed_ticket, name=EMBED_JOB, max_tries=5),
    ]


def cron_jobs(_: Settings) -> list[CronJob]:
    return [cron(sla_watch, name=SLA_WATCH_JOB, second=0, keep_result=0)]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    storage = Storage.from_settings(settings.storage) if settings.storage.minio_endpoint else None
    ctx["support"] = SupportService(db, ctx["redis"], settings, storage)
    ctx["sla_watch"] = SlaWatch(db, settings.core.public_url)


JOBS = Jobs(functions=functions, cron=cron_jobs, startup=startup)
