"""The notifications tables: the queries, upserts and locking reads the service runs inside its
transactions. No rules here; the service decides what to read and write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, func, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import upsert_if_newer
from subgraphs.notifications.models import (
    Channel,
    Delivery,
    Notification,
    OrganizationBranding,
    OrganizationMembers,
    OrganizationWhiteLabel,
    Preference,
    Status,
    Template,
)


async def by_dedupe_key(session: AsyncSession, dedupe: str) -> Notification | None:
    return (
        await session.exec(select(Notification).where(Notification.dedupe_key == dedupe))
    ).first()


async def queued_deliveries(session: AsyncSession, notification_id: UUID) -> list[Delivery]:
    rows = await session.exec(
        select(Delivery).where(
            Delivery.notification_id == notification_id, Delivery.status == Status.QUEUED.value
        )
    )
    return list(rows)


async def disabled_channels(session: AsyncSession, user_id: UUID, category: str) -> set[str]:
    """The channels the user turned off for ``category``."""
    rows = await session.exec(
        select(Preference).where(
            Preference.user_id == user_id,
            Preference.category == category,
            col(Preference.enabled).is_(False),
        )
    )
    return {p.channel for p in rows}


async def templates_by_locale(
    session: AsyncSession, org_id: UUID, key: str, channel: Channel, candidates: Sequence[str]
) -> dict[str, Template]:
    """The organization's templates of ``key`` on ``channel`` in any of the ``candidates``."""
    rows = await session.exec(
        select(Template).where(
            Template.org_id == org_id,
            Template.key == key,
            Template.channel == channel.value,
            col(Template.locale).in_(candidates),
        )
    )
    return {t.locale: t for t in rows}


async def template(
    session: AsyncSession, org_id: UUID, key: str, channel: Channel, locale: str
) -> Template | None:
    return (
        await session.exec(
            select(Template).where(
                Template.org_id == org_id,
                Template.key == key,
                Template.channel == channel.value,
                Template.locale == locale,
            )
        )
    ).first()


async def templates_of(session: AsyncSession, org_id: UUID) -> list[Template]:
    rows = await session.exec(
        select(Template)
        .where(Template.org_id == org_id)
        .order_by(col(Template.key), col(Template.channel), col(Template.locale))
    )
    return list(rows)


async def record_members(
    session: AsyncSession,
    org_id: UUID,
    user_ids: list[UUID],
    roles: dict[str, str],
    as_of: datetime,
) -> None:
    """Store the list unless a newer one is already stored."""
    row = {"org_id": org_id, "user_ids": user_ids, "roles": roles, "as_of": as_of}
    table = OrganizationMembers.__table__  # type: ignore[attr-defined]
    await upsert_if_newer(session, table, row, key="org_id")


async def record_branding(session: AsyncSession, branding: OrganizationBranding) -> None:
    """Store the branding unless a newer version is already stored."""
    table = OrganizationBranding.__table__  # type: ignore[attr-defined]
    await upsert_if_newer(session, table, branding.model_dump(), key="org_id", stamp="version")


async def locked_delivery(session: AsyncSession, delivery_id: UUID) -> Delivery | None:
    """The delivery, locked until the transaction ends, so no two workers change it at once."""
    return await session.get(Delivery, delivery_id, with_for_update=True)


async def in_app_page(
    session: AsyncSession,
    user_id: UUID,
    *,
    unread_only: bool,
    before: tuple[datetime, UUID] | None,
    size: int,
) -> list[Notification]:
    """Up to ``size`` + 1 of the user's in-app notifications, newest first, older than
    ``before`` (its creation time and id)."""
    query = select(Notification).where(*_in_app_of(user_id))
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    if before is not None:
        created, last = before
        key = tuple_(col(Notification.created_at), col(Notification.id))
        query = query.where(key < tuple_(created, last))
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    return list(await session.exec(query.limit(size + 1)))


async def in_app_counts(session: AsyncSession, user_id: UUID) -> tuple[int, int]:
    """How many in-app notifications the user has, and how many of them are unread."""
    counts = await session.exec(
        select(func.count(), func.count().filter(col(Notification.read_at).is_(None))).where(
            *_in_app_of(user_id)
        )
    )
    total, unread = counts.one()
    return int(total), int(unread)


def _in_app_of(user_id: UUID) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (col(Notification.user_id) == user_id, col(Notification.in_app).is_(True))


async def notifications_of(
    session: AsyncSession, user_id: UUID, ids: list[UUID]
) -> dict[UUID, Notification]:
    rows = await session.exec(
        select(Notification).where(col(Notification.id).in_(ids), Notification.user_id == user_id)
    )
    return {n.id: n for n in rows}


async def deliveries_of(session: AsyncSession, ids: list[UUID]) -> dict[UUID, list[Delivery]]:
    """The deliveries of each notification, by channel."""
    rows = await session.exec(
        select(Delivery)
        .where(col(Delivery.notification_id).in_(ids))
        .order_by(col(Delivery.channel))
    )
    by_notification: dict[UUID, list[Delivery]] = {}
    for delivery in rows:
        by_notification.setdefault(delivery.notification_id, []).append(delivery)
    return by_notification


async def mark_read(
    session: AsyncSession, user_id: UUID, ids: list[UUID], now: datetime
) -> list[Notification]:
    """Mark the user's notifications among ``ids`` read, with their in-app deliveries."""
    mine = (col(Notification.id).in_(ids), col(Notification.user_id) == user_id)
    await session.exec(
        update(Notification).where(*mine, col(Notification.read_at).is_(None)).values(read_at=now)
    )
    await session.exec(
        update(Delivery)
        .where(
            col(Delivery.notification_id).in_(ids),
            col(Delivery.user_id) == user_id,
            col(Delivery.channel) == Channel.IN_APP.value,
        )
        .values(status=Status.READ.value, updated_at=now)
    )
    return list(await session.exec(select(Notification).where(*mine)))


async def preferences_of(session: AsyncSession, user_id: UUID) -> list[Preference]:
    return list(await session.exec(select(Preference).where(Preference.user_id == user_id)))


async def save_preference(session: AsyncSession, preference: Preference) -> None:
    await session.exec(
        insert(Preference)
        .values(preference.model_dump())
        .on_conflict_do_update(
            index_elements=["user_id", "category", "channel"],
            set_={"enabled": preference.enabled},
        )
    )


async def record_white_label(
    session: AsyncSession, org_id: UUID, enabled: bool, as_of: datetime
) -> None:
    """Store billing's word unless a newer one is already stored."""
    row = {"org_id": org_id, "white_label": enabled, "as_of": as_of}
    table = OrganizationWhiteLabel.__table__  # type: ignore[attr-defined]
    await upsert_if_newer(session, table, row, key="org_id")
