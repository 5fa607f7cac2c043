"""Tenancy announces every membership change; notifications then knows whom an organization's
admins may notify."""

from __future__ import annotations

import asyncio
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.notifications.service import NotificationService
from tests.conftest import SignedClient
from tests.subgraphs.notifications.helpers import send, send_input
from tests.subgraphs.tenancy.builders import REMOVE, create_org, join, new_user


async def members_become(service: NotificationService, org_id: UUID, users: set[UUID]) -> None:
    for _ in range(500):  # 10 s
        if set(await service.members(org_id)) == users:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"members of {org_id} never became {users}")


async def test_members_who_join_or_leave_are_notified_or_not(
    auth: SignedClient,
    tenancy: SignedClient,
    notifications: SignedClient,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
) -> None:
    ada, bob = await new_user(auth), await new_user(auth)
    assert ada.user_id is not None
    assert bob.user_id is not None
    org_id = (await create_org(tenancy, ada))["organization"]["id"]
    await join(tenancy, owner_engine, ada, org_id, bob)
    await members_become(notification_service, UUID(org_id), {ada.user_id, bob.user_id})

    owner = Caller(user_id=ada.user_id, org_id=UUID(org_id), roles=frozenset({"owner"}))
    everyone = send_input(owner, [])
    del everyone["userIds"]
    assert len((await send(notifications, owner, everyone))["notifications"]) == 2

    removed = await tenancy.run(REMOVE, {"org": org_id, "user": str(bob.user_id)}, ada)
    assert removed["removeMember"]["errors"] == []
    await members_become(notification_service, UUID(org_id), {ada.user_id})
    to_bob = await send(notifications, owner, send_input(owner, [bob]))
    assert [e["field"] for e in to_bob["errors"]] == ["userIds"]
