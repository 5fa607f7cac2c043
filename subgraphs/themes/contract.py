"""What other parties may know of themes: the jobs by which tenancy tells it an organization's
slug (so ``themeBySlug`` never reads tenancy's tables) and billing whether its plan grants
``white_label``, and the codes its mutations return."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.errors import Code
from subgraphs.kernel.outbox import stage_job

SLUG_JOB = "themes.organization_slug"
WHITE_LABEL_JOB = "themes.organization_white_label"


class ThemesErrorCode(Code):
    INVALID_COLOR = "INVALID_COLOR", "A color is not `#rrggbb`."
    CONTRAST_TOO_LOW = (
        "CONTRAST_TOO_LOW",
        "A color pair is under its WCAG ratio; owners may publish with `acceptLowContrast`.",
    )
    CSS_INVALID = (
        "CSS_INVALID",
        "The custom CSS does not parse (the message gives line and column).",
    )
    CSS_NOT_ALLOWED = (
        "CSS_NOT_ALLOWED",
        "The custom CSS uses a property, at-rule or URL that is not allowed.",
    )
    CSS_TOO_LARGE = "CSS_TOO_LARGE", "The custom CSS is over its size or rule limit."
    FONT_NOT_ALLOWED = "FONT_NOT_ALLOWED", "A font outside the allowed stacks."
    ASSET_TOO_LARGE = "ASSET_TOO_LARGE", "A logo, icon or favicon over its size limit."
    ASSET_TYPE_NOT_ALLOWED = (
        "ASSET_TYPE_NOT_ALLOWED",
        "A logo, icon or favicon that is not PNG, JPEG or WebP (or SVG, for a logo or icon).",
    )
    IMAGE_TOO_LARGE = (
        "IMAGE_TOO_LARGE",
        "An image over 4096 px a side, a decompression bomb, or an SVG too costly to draw.",
    )
    IMAGE_UNREADABLE = "IMAGE_UNREADABLE", "The image does not decode."
    VERSION_CONFLICT = "VERSION_CONFLICT", "The draft changed since `expectedVersion`; reload it."
    NOTHING_TO_PUBLISH = "NOTHING_TO_PUBLISH", "The draft holds no change from the published theme."
    NOT_ENTITLED = (
        "NOT_ENTITLED",
        "Custom CSS needs a plan with `white_label`; without it, remove the custom CSS.",
    )


async def stage_slug(
    session: AsyncSession, org_id: UUID, slug: str | None, as_of: datetime, name: str | None
) -> None:
    """Once the transaction commits, tell themes the organization's slug and name (the footer
    name of its emails; slug None: it is gone). The latest ``as_of`` wins, so a late or
    repeated job changes nothing."""
    stamp = as_of.isoformat()
    job_id = f"{SLUG_JOB}:{org_id}:{stamp}"
    await stage_job(session, SLUG_JOB, str(org_id), slug, stamp, name, job_id=job_id)


async def stage_white_label(
    session: AsyncSession, org_id: UUID, enabled: bool, as_of: datetime
) -> None:
    """Once the transaction commits, tell themes whether the organization's plan grants
    ``white_label`` (without it, live custom CSS is withheld). The latest ``as_of`` wins."""
    stamp = as_of.isoformat()
    job_id = f"{WHITE_LABEL_JOB}:{org_id}:{stamp}"
    await stage_job(session, WHITE_LABEL_JOB, str(org_id), enabled, stamp, job_id=job_id)
