"""ARQ jobs of auth: tenancy's lists of organization members are recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from arq.worker import Function, func

from subgraphs.auth.contract import MEMBERS_JOB
from subgraphs.auth.service import record_members
from subgraphs.auth.settings import Settings
from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs, retried_if_unavailable

Ctx = dict[str, Any]


async def organization_members(ctx: Ctx, org_id: str, user_ids: list[str], as_of: str) -> None:
    members = [UUID(u) for u in user_ids]
    async with retried_if_unavailable(ctx):
        await record_members(ctx["auth_db"], UUID(org_id), members, datetime.fromisoformat(as_of))


def functions(settings: Settings) -> list[Function]:
    return [
        func(
            organization_members,
            name=MEMBERS_JOB,
            timeout=settings.core.job_timeout_seconds,
            keep_result=0,
        )
    ]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    ctx["auth_db"] = db


JOBS = Jobs(functions=functions, startup=startup)
