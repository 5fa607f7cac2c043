"""The themes tables: the queries, upserts and locking reads the service runs inside its
transactions. No rules here; the service decides what to read and write."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import set_local, upsert_if_newer
from subgraphs.kernel.errors import existing
from subgraphs.themes.models import Draft, OrganizationSlug, OrganizationWhiteLabel, Version


async def live_version(session: AsyncSession, org_id: UUID) -> Version | None:
    """The organization's newest version, the one in force."""
    rows = await session.exec(
        select(Version).where(Version.org_id == org_id).order_by(col(Version.version).desc())
    )
    return rows.first()


async def versions(session: AsyncSession, org_id: UUID, limit: int) -> list[Version]:
    """The organization's newest ``limit`` versions, newest first."""
    rows = await session.exec(
        select(Version)
        .where(Version.org_id == org_id)
        .order_by(col(Version.version).desc())
        .limit(limit)
    )
    return list(rows)


async def draft(session: AsyncSession, org_id: UUID, *, lock: bool) -> Draft | None:
    """The stored draft; with ``lock``, locked until the transaction ends."""
    return await session.get(Draft, org_id, with_for_update=lock)


async def stored_draft(session: AsyncSession, fresh: Draft) -> Draft:
    """``fresh`` stored unless a concurrent transaction stored one first; either way the
    stored draft, locked."""
    await session.exec(pg_insert(Draft).values(**fresh.model_dump()).on_conflict_do_nothing())
    stored = await session.get(Draft, fresh.org_id, with_for_update=True, populate_existing=True)
    return existing(stored, "draft")


async def delete_draft(session: AsyncSession, org_id: UUID) -> None:
    await session.exec(delete(Draft).where(col(Draft.org_id) == org_id))


async def lock_publications(session: AsyncSession, org_id: UUID) -> None:
    """Queue the organization's publications behind this transaction (by its draft's row)."""
    await session.exec(select(Draft.org_id).where(Draft.org_id == org_id).with_for_update())


async def published_css(
    session: AsyncSession, org_id: UUID, css_hash: str, *, with_custom: bool
) -> str | None:
    """A version's stylesheet by its hash; only one without custom CSS unless ``with_custom``."""
    query = select(Version.css).where(Version.org_id == org_id, Version.css_hash == css_hash)
    if not with_custom:
        query = query.where(Version.scoped_css == "")
    rows = await session.exec(query)
    return rows.first()


async def white_label(session: AsyncSession, org_id: UUID) -> bool:
    """Whether billing last said the plan grants ``white_label``; until it said anything, the
    check made at publication stands."""
    known = await session.get(OrganizationWhiteLabel, org_id)
    return known is None or known.white_label


async def record_white_label(
    session: AsyncSession, org_id: UUID, enabled: bool, as_of: datetime
) -> None:
    """Store billing's word unless a newer one is already stored."""
    row = {"org_id": org_id, "white_label": enabled, "as_of": as_of}
    table = OrganizationWhiteLabel.__table__  # type: ignore[attr-defined]
    await upsert_if_newer(session, table, row, key="org_id")


async def slug_owner(session: AsyncSession, slug: str) -> OrganizationSlug | None:
    """The organization recorded with ``slug``; row security shows a slug only to who names
    it."""
    await set_local(session, "app.slug", slug.strip().lower()[:63])
    rows = await session.exec(select(OrganizationSlug).where(OrganizationSlug.slug == slug))
    return rows.first()


async def locked_slug(session: AsyncSession, org_id: UUID) -> OrganizationSlug | None:
    return await session.get(OrganizationSlug, org_id, with_for_update=True)


async def forget_slug(session: AsyncSession, org_id: UUID) -> None:
    await session.exec(delete(OrganizationSlug).where(col(OrganizationSlug.org_id) == org_id))


async def record_slug(
    session: AsyncSession, org_id: UUID, slug: str, as_of: datetime, name: str | None
) -> None:
    """Record ``slug`` (and ``name``) as the organization's, taking the slug from any other
    still recorded with it."""
    await set_local(session, "app.slug", slug)
    await session.exec(
        delete(OrganizationSlug).where(
            col(OrganizationSlug.slug) == slug, col(OrganizationSlug.org_id) != org_id
        )
    )
    values = {"slug": slug, "as_of": as_of, "name": name}
    insert = pg_insert(OrganizationSlug).values(org_id=org_id, **values)
    await session.exec(
        insert.on_conflict_do_update(
            index_elements=[col(OrganizationSlug.org_id)],
            set_=values,
        )
    )
