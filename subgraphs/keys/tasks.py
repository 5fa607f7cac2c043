"""ARQ jobs of keys: the periodic flush of API-key usage counters from Redis to PostgreSQL."""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs
from subgraphs.keys.service import KeysService
from subgraphs.keys.settings import Settings

Ctx = dict[str, Any]
FLUSH_USAGE_JOB = "keys.flush_usage"


async def flush_usage(ctx: Ctx) -> int:
    """Move the counters the routers wrote into PostgreSQL; returns how many were moved."""
    service: KeysService = ctx["keys"]
    return await service.flush_usage()


def cron_jobs(_: Settings) -> list[CronJob]:
    # Every minute: ``usage`` reads unflushed counters too, so this only bounds Redis's share.
    return [cron(flush_usage, name=FLUSH_USAGE_JOB, second=0, keep_result=0)]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    ctx["keys"] = KeysService(db, ctx["redis"], settings)


JOBS = Jobs(cron=cron_jobs, startup=startup)
