"""The keys tables: the queries, upserts and locking reads the service runs inside its
transactions. No rules here; the service decides what to read and write."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import set_local, utcnow
from subgraphs.keys.models import ApiKey, UsageDay


async def active_keys(session: AsyncSession, org_id: UUID) -> int:
    """How many of the organization's keys are neither revoked nor expired; the count holds
    until the transaction ends."""
    # Serialises key creation per organization, so concurrent calls cannot pass the maximum.
    await session.exec(select(func.pg_advisory_xact_lock(func.hashtextextended(str(org_id), 0))))
    now = utcnow()
    count = await session.exec(
        select(func.count())
        .select_from(ApiKey)
        .where(
            ApiKey.org_id == org_id,
            col(ApiKey.revoked_at).is_(None),
            or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
        )
    )
    return int(count.one())


async def locked_key(session: AsyncSession, key_id: UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id, with_for_update=True)


async def keys_by_id(session: AsyncSession, ids: list[UUID]) -> list[ApiKey]:
    return list(await session.exec(select(ApiKey).where(col(ApiKey.id).in_(ids))))


async def keys_of(
    session: AsyncSession, org_ids: list[UUID], include_revoked: bool
) -> dict[UUID, list[ApiKey]]:
    """Each organization's keys, newest first."""
    query = select(ApiKey).where(col(ApiKey.org_id).in_(org_ids))
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    rows = await session.exec(query.order_by(col(ApiKey.created_at).desc()))
    by_org: dict[UUID, list[ApiKey]] = {}
    for key in rows:
        by_org.setdefault(key.org_id, []).append(key)
    return by_org


async def usage_days(
    session: AsyncSession, key_ids: list[UUID], start: date, end: date
) -> dict[tuple[UUID, date], tuple[int, int]]:
    """The flushed requests and rejections of each key per day, from ``start`` to ``end``."""
    rows = await session.exec(
        select(UsageDay).where(
            col(UsageDay.key_id).in_(key_ids),
            col(UsageDay.day) >= start,
            col(UsageDay.day) <= end,
        )
    )
    return {(r.key_id, r.day): (r.requests, r.rejected) for r in rows}


async def locked_keys_of(session: AsyncSession, org_id: UUID, key_ids: list[UUID]) -> list[ApiKey]:
    """Those of ``key_ids`` that are the organization's, locked until the transaction ends."""
    rows = await session.exec(
        select(ApiKey).where(col(ApiKey.id).in_(key_ids), ApiKey.org_id == org_id).with_for_update()
    )
    return list(rows)


async def add_usage(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Add counted requests and rejections to the stored days (``UsageDay`` rows as dicts)."""
    insert = pg_insert(UsageDay).values(rows)
    await session.exec(
        insert.on_conflict_do_update(
            index_elements=[col(UsageDay.key_id), col(UsageDay.day)],
            set_={
                "requests": col(UsageDay.requests) + insert.excluded.requests,
                "rejected": col(UsageDay.rejected) + insert.excluded.rejected,
            },
        )
    )


async def key_by_hash(session: AsyncSession, hashed: str) -> ApiKey | None:
    """The key whose current or previous secret has this hash; row security shows a key to
    the anonymous verifier only by its hash."""
    await set_local(session, "app.key_hash", hashed)
    rows = await session.exec(
        select(ApiKey).where(
            or_(
                col(ApiKey.secret_hash) == hashed,
                col(ApiKey.previous_secret_hash) == hashed,
            )
        )
    )
    return rows.first()
