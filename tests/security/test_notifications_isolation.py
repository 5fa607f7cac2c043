"""Notifications, templates, preferences and contacts are hidden by row-level security from
anyone but their recipient or organization, whatever the service layer does."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import text

from core.caller import Caller
from subgraphs.kernel.db import Database
from subgraphs.notifications.service import NotificationService
from tests.conftest import SignedClient
from tests.subgraphs.notifications.helpers import SET, member, organization, save, send, send_input
from vetrai.settings import PlatformSettings

TABLES = (
    "notifications",
    "deliveries",
    "templates",
    "preferences",
    "contacts",
    "organization_members",
)


async def test_rls_shows_each_row_to_its_recipient_or_organization_only(
    notifications: SignedClient,
    settings: PlatformSettings,
    notification_service: NotificationService,
) -> None:
    ada, eve = member(), member()
    admin = await organization(notification_service, ada)
    await send(notifications, admin, send_input(admin, [ada], channels=["IN_APP"]))
    await save(notifications, admin, key="message", channel="SMS", subject="s", body="{{ body }}")
    await notifications.run(SET, {"c": "job", "ch": "SMS", "on": False}, ada)
    url = settings.core.login_url("notifications")
    db = Database(url)
    try:
        async with db.transaction(Caller(user_id=eve.user_id, org_id=uuid4())) as session:
            for table in TABLES:
                rows = await session.scalar(
                    text(f"select count(*) from notifications.{table}")  # noqa: S608
                )
                assert rows == 0, table
        async with db.transaction(ada) as session:
            mine = await session.scalar(
                text("select count(*) from notifications.notifications where user_id = :u"),
                {"u": ada.user_id},
            )
            assert mine == 1
            templates = await session.scalar(text("select count(*) from notifications.templates"))
            assert templates == 0
        async with db.transaction(Caller(org_id=admin.org_id)) as session:
            assert await session.scalar(text("select count(*) from notifications.templates")) == 1
            # An organization does not read its members' own notifications.
            notes = await session.scalar(text("select count(*) from notifications.notifications"))
            assert notes == 0
    finally:
        await db.close()


async def test_application_role_cannot_turn_security_off(settings: PlatformSettings) -> None:
    url = settings.core.login_url("notifications")
    db = Database(url)
    try:
        async with db.transaction(Caller()) as session:
            forced = await session.scalar(
                text(
                    "select bool_and(relforcerowsecurity and relrowsecurity) from pg_class"
                    " where relnamespace = 'notifications'::regnamespace and relkind = 'r'"
                    " and relname <> 'alembic_version'"
                )
            )
            assert forced is True
    finally:
        await db.close()
