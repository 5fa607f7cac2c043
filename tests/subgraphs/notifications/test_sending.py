"""sendNotification for owners and admins, idempotency keys, history and read state."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.kernel.db import utcnow
from subgraphs.notifications.service import NotificationService
from tests.conftest import SignedClient
from tests.subgraphs.notifications.helpers import (
    HISTORY,
    MARK_READ,
    admin_of,
    history,
    member,
    organization,
    send,
    send_input,
)


async def test_admin_sends_in_app_notification_to_users(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada, bob = member(), member()
    admin = await organization(notification_service, ada, bob)
    sent = await send(notifications, admin, send_input(admin, [ada, bob]))
    assert sent["errors"] == []
    assert [(n["title"], n["body"], n["read"]) for n in sent["notifications"]] == [
        ("Hello", "World", False),
        ("Hello", "World", False),
    ]
    mine = await history(notifications, ada)
    assert mine["totalCount"] == 1
    assert mine["unreadCount"] == 1
    node = mine["edges"][0]["node"]
    assert node["category"] == "announcement"
    assert node["deliveries"] == [{"channel": "IN_APP", "status": "DELIVERED"}]


async def test_same_idempotency_key_creates_nothing_new(
    notifications: SignedClient,
    owner_engine: AsyncEngine,
    notification_service: NotificationService,
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    input = send_input(admin, [ada], channels=["IN_APP", "EMAIL"])
    first, racing = await asyncio.gather(
        send(notifications, admin, input), send(notifications, admin, input)
    )
    assert racing["notifications"] == first["notifications"]
    again = await send(notifications, admin, input)
    assert again["notifications"] == first["notifications"]
    assert (await history(notifications, ada))["totalCount"] == 1
    async with owner_engine.connect() as connection:
        count = await connection.scalar(
            text("select count(*) from notifications.notifications where user_id = :u"),
            {"u": ada.user_id},
        )
    assert count == 1


async def test_only_owners_and_admins_of_that_organization_send(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    org = admin.org_id
    plain = Caller(user_id=ada.user_id, org_id=org, roles=frozenset({"member"}))
    other_admin = admin_of(uuid4())
    for caller in (plain, other_admin, Caller()):
        result = await send(notifications, caller, send_input(admin, [ada]))
        codes = [e["code"] for e in result["errors"]]
        assert codes in (["FORBIDDEN"], ["UNAUTHENTICATED"])
        assert result["notifications"] == []
    owner = Caller(user_id=uuid4(), org_id=org, roles=frozenset({"owner"}))
    assert (await send(notifications, owner, send_input(owner, [ada])))["errors"] == []


async def test_bad_input_names_the_field(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    cases = {
        "userIds": send_input(admin, []),
        "channels": send_input(admin, [ada], channels=[]),
        "category": send_input(admin, [ada], category="Not A Category"),
        "templateKey": send_input(admin, [ada], templateKey="nope"),
        "idempotencyKey": send_input(admin, [ada], idempotencyKey=" "),
    }
    for field, input in cases.items():
        result = await send(notifications, admin, input)
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_INPUT", field)]
    bad_id = send_input(admin, [member()])
    bad_id["userIds"] = ["not-an-id"]
    result = await send(notifications, admin, bad_id)
    assert [e["field"] for e in result["errors"]] == ["userIds"]


async def test_history_pages_newest_first_and_counts_unread(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    for title in ("one", "two", "three"):
        await send(notifications, admin, send_input(admin, [ada], title=title))
    page = await history(notifications, ada, first=2)
    assert [e["node"]["title"] for e in page["edges"]] == ["three", "two"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await history(notifications, ada, first=2, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["title"] for e in rest["edges"]] == ["one"]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][0]["cursor"]}

    newest = page["edges"][0]["node"]["id"]
    read = await notifications.run(MARK_READ, {"ids": [newest]}, ada)
    assert read["markNotificationsRead"] == {
        "notifications": [{"id": newest, "read": True}],
        "errors": [],
    }
    after_read = await history(notifications, ada)
    assert (after_read["totalCount"], after_read["unreadCount"]) == (3, 2)
    unread = await history(notifications, ada, unread=True)
    assert [e["node"]["title"] for e in unread["edges"]] == ["two", "one"]
    assert after_read["edges"][0]["node"]["deliveries"] == [{"channel": "IN_APP", "status": "READ"}]


async def test_nobody_reads_or_marks_another_users_notifications(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada, eve = member(), member()
    admin = await organization(notification_service, ada)
    sent = await send(notifications, admin, send_input(admin, [ada]))
    ids = [n["id"] for n in sent["notifications"]]
    variables = {
        "u": [{"__typename": "User", "id": str(ada.user_id)}],
        "first": 10,
        "after": None,
        "unread": False,
    }
    seen = await notifications.run(HISTORY, variables, eve)
    assert seen["_entities"][0]["notifications"]["totalCount"] == 0
    marked = await notifications.run(MARK_READ, {"ids": ids}, eve)
    assert marked["markNotificationsRead"]["notifications"] == []
    assert (await history(notifications, ada))["unreadCount"] == 1
    anonymous = await notifications.run(MARK_READ, {"ids": ids})
    assert [e["code"] for e in anonymous["markNotificationsRead"]["errors"]] == ["UNAUTHENTICATED"]


async def test_bad_cursor_and_page_size_are_rejected(notifications: SignedClient) -> None:
    ada = member()
    for first, after in ((0, None), (101, None), (10, "garbage"), (10, "WyJ4Il0=")):
        variables = {
            "u": [{"__typename": "User", "id": str(ada.user_id)}],
            "first": first,
            "after": after,
            "unread": False,
        }
        response = await notifications.post(HISTORY, variables, ada)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_without_user_ids_every_member_is_notified_and_outsiders_never(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada, bob, eve = member(), member(), member()
    admin = await organization(notification_service, ada, bob)
    everyone = send_input(admin, [])
    del everyone["userIds"]
    assert len((await send(notifications, admin, everyone))["notifications"]) == 3
    outsider = await send(notifications, admin, send_input(admin, [ada, eve]))
    assert outsider["notifications"] == []
    assert [(e["code"], e["field"]) for e in outsider["errors"]] == [("INVALID_INPUT", "userIds")]
    assert (await history(notifications, eve))["totalCount"] == 0

    assert admin.org_id is not None
    stale = utcnow() - timedelta(minutes=1)
    await notification_service.set_members(admin.org_id, [], stale)
    assert len(await notification_service.members(admin.org_id)) == 3


async def test_notification_entities_resolve_for_their_recipient_only(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada = member()
    admin = await organization(notification_service, ada)
    [sent] = (await send(notifications, admin, send_input(admin, [ada])))["notifications"]
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Notification { id title deliveries { channel } } } }"""
    variables = {"r": [{"__typename": "Notification", "id": sent["id"]}]}
    mine = await notifications.run(query, variables, ada)
    assert mine["_entities"] == [
        {"id": sent["id"], "title": "Hello", "deliveries": [{"channel": "IN_APP"}]}
    ]
    assert (await notifications.run(query, variables, member()))["_entities"] == [None]
    assert (await notifications.run(query, variables))["_entities"] == [None]
