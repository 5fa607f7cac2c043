"""Preferences per category and channel (security cannot be turned off), contact settings and
the quiet hours rule."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from core.caller import Caller
from subgraphs.notifications.models import Contact
from subgraphs.notifications.service import NotificationService, quiet_until
from tests.conftest import SignedClient
from tests.subgraphs.notifications.helpers import (
    SET,
    SETTINGS,
    history,
    member,
    organization,
    send,
    send_input,
)

PREFERENCES = """query($u: [_Any!]!) { _entities(representations: $u) { ... on User {
  notificationPreferences { category channel enabled mandatory }
  notificationSettings { phone locale timezone quietHours { start end } } } } }"""


async def of(notifications: SignedClient, user: Caller) -> dict[str, Any]:
    data = await notifications.run(
        PREFERENCES, {"u": [{"__typename": "User", "id": str(user.user_id)}]}, user
    )
    entity: dict[str, Any] = data["_entities"][0]
    return entity


async def test_every_category_is_on_by_default_and_security_is_mandatory(
    notifications: SignedClient,
) -> None:
    ada = member()
    preferences = (await of(notifications, ada))["notificationPreferences"]
    assert all(p["enabled"] for p in preferences)
    assert {p["category"] for p in preferences if p["mandatory"]} == {"security"}
    refused = await notifications.run(SET, {"c": "security", "ch": "EMAIL", "on": False}, ada)
    assert refused["setNotificationPreference"]["errors"] == [
        {"code": "MANDATORY_CATEGORY", "field": "enabled"}
    ]
    assert (await of(notifications, ada))["notificationSettings"] == {
        "phone": None,
        "locale": "en",
        "timezone": "UTC",
        "quietHours": None,
    }
    other = await notifications.run(
        PREFERENCES, {"u": [{"__typename": "User", "id": str(ada.user_id)}]}, member()
    )
    assert other["_entities"][0] == {"notificationPreferences": [], "notificationSettings": None}


async def test_a_channel_turned_off_is_not_used(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    turned = await notifications.run(SET, {"c": "announcement", "ch": "IN_APP", "on": False}, ada)
    assert turned["setNotificationPreference"]["preference"] == {
        "category": "announcement",
        "channel": "IN_APP",
        "enabled": False,
        "mandatory": False,
    }
    silenced = await send(notifications, admin, send_input(admin, [ada]))
    assert len(silenced["notifications"]) == 1
    assert (await history(notifications, ada))["totalCount"] == 0
    await notifications.run(SET, {"c": "announcement", "ch": "IN_APP", "on": True}, ada)
    await send(notifications, admin, send_input(admin, [ada]))
    [edge] = (await history(notifications, ada))["edges"]
    assert edge["node"]["deliveries"] == [{"channel": "IN_APP", "status": "DELIVERED"}]


async def test_settings_are_checked_and_quiet_hours_cleared_with_null(
    notifications: SignedClient,
) -> None:
    ada = member()
    bad = await notifications.run(
        SETTINGS,
        {"input": {"phone": "0612", "locale": "French", "timezone": "Mars/Base"}},
        ada,
    )
    fields = sorted(e["field"] for e in bad["updateNotificationSettings"]["errors"])
    assert fields == ["locale", "phone", "timezone"]
    good = {
        "phone": "+33612345678",
        "locale": "fr-CA",
        "timezone": "Europe/Paris",
        "quietHours": {"start": "22:00", "end": "07:00"},
    }
    saved = await notifications.run(SETTINGS, {"input": good}, ada)
    assert saved["updateNotificationSettings"] == {"settings": good, "errors": []}
    cleared = await notifications.run(SETTINGS, {"input": {"quietHours": None}}, ada)
    assert cleared["updateNotificationSettings"]["settings"] == good | {"quietHours": None}
    late = await notifications.run(
        SETTINGS, {"input": {"quietHours": {"start": "25:00", "end": "07:00"}}}, ada
    )
    assert late["updateNotificationSettings"]["errors"] == [
        {"code": "INVALID_INPUT", "field": "quietHours.start"}
    ]


def test_quiet_hours_may_span_midnight_in_the_users_time_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    contact = Contact(
        user_id=uuid4(), timezone="Europe/Paris", quiet_start=time(22), quiet_end=time(7)
    )
    late = datetime(2026, 1, 10, 23, 30, tzinfo=paris)
    assert quiet_until(contact, late) == datetime(2026, 1, 11, 7, 0, tzinfo=paris)
    early = datetime(2026, 1, 11, 6, 59, tzinfo=paris).astimezone(UTC)
    assert quiet_until(contact, early) == datetime(2026, 1, 11, 7, 0, tzinfo=paris)
    assert quiet_until(contact, datetime(2026, 1, 11, 12, 0, tzinfo=paris)) is None
    assert quiet_until(Contact(user_id=uuid4()), late) is None
