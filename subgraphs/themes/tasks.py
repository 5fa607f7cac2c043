"""ARQ jobs of themes: tenancy's announcements of organization slugs and billing's of
``white_label`` are recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from arq.worker import Function, Retry, func
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Jobs
from subgraphs.themes.contract import SLUG_JOB, WHITE_LABEL_JOB
from subgraphs.themes.service import ThemesService
from subgraphs.themes.settings import Settings

Ctx = dict[str, Any]


async def organization_slug(
    ctx: Ctx, org_id: str, slug: str | None, as_of: str, name: str | None = None
) -> None:
    """``name`` is absent from jobs queued before tenancy sent names."""
    service: ThemesService = ctx["themes"]
    try:
        await service.set_slug(UUID(org_id), slug, datetime.fromisoformat(as_of), name)
    except (DBAPIError, RedisError, OSError) as exc:  # back soon: try again rather than lose it
        raise Retry(defer=ctx["job_try"] * 2) from exc


async def organization_white_label(ctx: Ctx, org_id: str, enabled: bool, as_of: str) -> None:
    service: ThemesService = ctx["themes"]
    try:
        await service.set_white_label(UUID(org_id), enabled, datetime.fromisoformat(as_of))
    except (DBAPIError, RedisError, OSError) as exc:  # back soon: try again rather than lose it
        raise Retry(defer=ctx["job_try"] * 2) from exc


def functions(_: Settings) -> list[Function]:
    return [
        func(organization_slug, name=SLUG_JOB, max_tries=10),
        func(organization_white_label, name=WHITE_LABEL_JOB, max_tries=10),
    ]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    # The job needs neither storage nor the preview key.
    ctx["themes"] = ThemesService(db, ctx["redis"], settings, None, b"")


JOBS = Jobs(functions=functions, startup=startup)
