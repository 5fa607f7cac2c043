"""What other parties may know of themes: the job by which tenancy tells it an organization's
slug (so ``themeBySlug`` never reads tenancy's tables), and the codes its mutations return."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.outbox import stage_job

SLUG_JOB = "themes.organization_slug"


class ThemesErrorCode(enum.StrEnum):
    INVALID_COLOR = "INVALID_COLOR"
    CONTRAST_TOO_LOW = "CONTRAST_TOO_LOW"
    CSS_INVALID = "CSS_INVALID"
    CSS_NOT_ALLOWED = "CSS_NOT_ALLOWED"
    CSS_TOO_LARGE = "CSS_TOO_LARGE"
    FONT_NOT_ALLOWED = "FONT_NOT_ALLOWED"
    ASSET_TOO_LARGE = "ASSET_TOO_LARGE"
    ASSET_TYPE_NOT_ALLOWED = "ASSET_TYPE_NOT_ALLOWED"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_UNREADABLE = "IMAGE_UNREADABLE"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    NOTHING_TO_PUBLISH = "NOTHING_TO_PUBLISH"


async def stage_slug(
    session: AsyncSession, org_id: UUID, slug: str | None, as_of: datetime
) -> None:
    """Once the transaction commits, tell themes the organization's slug (None: it is gone).
    The latest ``as_of`` wins, so a late or repeated job changes nothing."""
    stamp = as_of.isoformat()
    await stage_job(
        session, SLUG_JOB, str(org_id), slug, stamp, job_id=f"{SLUG_JOB}:{org_id}:{stamp}"
    )
