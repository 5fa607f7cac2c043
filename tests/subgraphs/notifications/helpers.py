"""Callers and operations shared by the notifications tests."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID, uuid4

from core.caller import Caller
from subgraphs.kernel.db import utcnow
from subgraphs.notifications.service import NotificationService
from tests.conftest import SignedClient

SEND = """mutation($input: SendNotificationInput!) { sendNotification(input: $input) {
  notifications { id title body category read } errors { code field message } } }"""
HISTORY = """query($u: [_Any!]!, $first: Int!, $after: String, $unread: Boolean!) {
  _entities(representations: $u) { ... on User {
    notifications(first: $first, after: $after, unreadOnly: $unread) {
      totalCount unreadCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id title body read category deliveries { channel status } } } } } } }"""
MARK_READ = """mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) {
  notifications { id read } errors { code field } } }"""


def admin_of(org_id: UUID) -> Caller:
    return Caller(user_id=uuid4(), org_id=org_id, roles=frozenset({"admin"}))


async def organization(service: NotificationService, *members: Caller) -> Caller:
    """An admin of a new organization whose members are the admin and ``members``, recorded
    as tenancy's announcement would record them."""
    org_id, admin_id = uuid4(), uuid4()
    users = [admin_id, *(m.user_id for m in members if m.user_id)]
    await service.set_members(org_id, users, utcnow())
    return Caller(user_id=admin_id, org_id=org_id, roles=frozenset({"admin"}))


def member() -> Caller:
    return Caller(user_id=uuid4())


def send_input(org: Caller, users: list[Caller], **extra: Any) -> dict[str, Any]:
    return {
        "organizationId": str(org.org_id),
        "userIds": [str(u.user_id) for u in users],
        "category": "announcement",
        "title": "Hello",
        "body": "World",
        "channels": ["IN_APP"],
        "idempotencyKey": secrets.token_hex(8),
        **extra,
    }


async def send(notifications: SignedClient, admin: Caller, input: dict[str, Any]) -> dict[str, Any]:
    data = await notifications.run(SEND, {"input": input}, admin)
    payload: dict[str, Any] = data["sendNotification"]
    return payload


async def history(
    notifications: SignedClient,
    user: Caller,
    first: int = 10,
    after: str | None = None,
    unread: bool = False,
) -> dict[str, Any]:
    variables = {
        "u": [{"__typename": "User", "id": str(user.user_id)}],
        "first": first,
        "after": after,
        "unread": unread,
    }
    data = await notifications.run(HISTORY, variables, user)
    connection: dict[str, Any] = data["_entities"][0]["notifications"]
    return connection


SET = """mutation($c: String!, $ch: NotificationChannel!, $on: Boolean!) {
  setNotificationPreference(input: {category: $c, channel: $ch, enabled: $on}) {
    preference { category channel enabled mandatory } errors { code field } } }"""


SETTINGS = """mutation($input: NotificationSettingsInput!) {
  updateNotificationSettings(input: $input) {
    settings { phone locale timezone quietHours { start end } } errors { code field } } }"""


async def save(notifications: SignedClient, caller: Caller, **input: Any) -> dict[str, Any]:
    data = await notifications.run(SAVE, {"input": input}, caller)
    payload: dict[str, Any] = data["saveTemplate"]
    return payload


SAVE = """mutation($input: TemplateInput!) { saveTemplate(input: $input) {
  template { id key channel locale subject } errors { code field message } } }"""
