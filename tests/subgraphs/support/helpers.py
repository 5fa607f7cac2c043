"""Builders of the support tests: callers of one organization, tickets and comments made
through the subgraph."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, link_token

TICKET = "id number title body status priority tags customFields requester { id } assignee { id }"
CREATE = f"""mutation($input: CreateTicketInput!) {{ createTicket(input: $input) {{
  ticket {{ {TICKET} }} errors {{ code field message }} }} }}"""
COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  comment { id body internal author { id } } errors { code field message } } }"""
STATUS = """mutation($input: SetTicketStatusInput!) { setTicketStatus(input: $input) {
  ticket { status sla { timeline { event rule } } } errors { code field message } } }"""
UPDATE = f"""mutation($input: UpdateTicketInput!) {{ updateTicket(input: $input) {{
  ticket {{ {TICKET} }} errors {{ code field message }} }} }}"""
SET_AGENT = """mutation($input: SetAgentInput!) { setAgent(input: $input) {
  ok errors { code message } } }"""


@dataclass
class Org:
    """An organization as the router would vouch for its people."""

    id: UUID = field(default_factory=uuid4)

    def caller(self, role: str = "member", user_id: UUID | None = None) -> Caller:
        return Caller(user_id=user_id or uuid4(), org_id=self.id, roles=frozenset({role}))

    def owner(self) -> Caller:
        return self.caller("owner")


async def create_ticket(support: SignedClient, caller: Caller, **input: Any) -> dict[str, Any]:
    """The createTicket payload."""
    values = {"organizationId": str(caller.org_id), "title": "Cannot log in", "body": "<p>Help</p>"}
    data = await support.run(CREATE, {"input": {**values, **input}}, caller)
    payload: dict[str, Any] = data["createTicket"]
    return payload


async def ticket(support: SignedClient, caller: Caller, **input: Any) -> dict[str, Any]:
    """A created ticket; fails the test on errors."""
    payload = await create_ticket(support, caller, **input)
    assert payload["errors"] == [], payload["errors"]
    created: dict[str, Any] = payload["ticket"]
    return created


async def comment(
    support: SignedClient, caller: Caller, ticket_id: str, body: str = "<p>Hi</p>", **input: Any
) -> dict[str, Any]:
    data = await support.run(
        COMMENT, {"input": {"ticketId": ticket_id, "body": body, **input}}, caller
    )
    payload: dict[str, Any] = data["addComment"]
    return payload


async def make_agent(support: SignedClient, org: Org, user: Caller) -> None:
    input = {"organizationId": str(org.id), "userId": str(user.user_id), "agent": True}
    data = await support.run(SET_AGENT, {"input": input}, org.owner())
    assert data["setAgent"]["ok"], data


async def set_status(support: SignedClient, caller: Caller, ticket_id: str, status: str) -> Any:
    data = await support.run(STATUS, {"input": {"ticketId": ticket_id, "status": status}}, caller)
    return data["setTicketStatus"]


async def embedded(owner_engine: AsyncEngine, ticket_ids: list[str]) -> None:
    """Once the worker has stored the embeddings of these tickets."""
    query = text("select count(*) from support.ticket_embeddings where ticket_id = any(:ids)")
    ids = [UUID(i) for i in ticket_ids]
    for _ in range(3000):  # 60 s: the first job of a worker loads the model
        async with owner_engine.connect() as connection:
            if await connection.scalar(query, {"ids": ids}) == len(ids):
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the worker embedded not all of {len(ids)} tickets")


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e.get("field")) for e in payload["errors"]]


CALENDAR = """mutation($input: CreateBusinessCalendarInput!) {
  createBusinessCalendar(input: $input) { calendar { id } errors { code field message } } }"""
POLICY = """mutation($input: CreateSlaPolicyInput!) { createSlaPolicy(input: $input) {
  policy { id } errors { code field message } } }"""
OFFICE_HOURS = [{"weekday": d, "startMinute": 9 * 60, "endMinute": 17 * 60} for d in range(5)]


async def office_policy(
    support: SignedClient, org: Org, targets: list[dict[str, Any]], name: str = "Office hours"
) -> str:
    """A policy on Monday to Friday, 09:00-17:00 in Berlin; its calendar's id."""
    calendar = await support.run(
        CALENDAR,
        {
            "input": {
                "organizationId": str(org.id),
                "name": name,
                "timezone": "Europe/Berlin",
                "weeklyHours": OFFICE_HOURS,
            }
        },
        org.owner(),
    )
    assert calendar["createBusinessCalendar"]["errors"] == []
    calendar_id: str = calendar["createBusinessCalendar"]["calendar"]["id"]
    input = {
        "organizationId": str(org.id),
        "name": name,
        "calendarId": calendar_id,
        "targets": targets,
    }
    policy = await support.run(POLICY, {"input": input}, org.owner())
    assert policy["createSlaPolicy"]["errors"] == []
    return calendar_id


async def agent(support: SignedClient, org: Org, capacity: int = 20) -> Caller:
    user = org.caller()
    input = {
        "organizationId": str(org.id),
        "userId": str(user.user_id),
        "agent": True,
        "capacity": capacity,
    }
    data = await support.run(SET_AGENT, {"input": input}, org.owner())
    assert data["setAgent"]["ok"], data
    return user


TEAM = """mutation($org: ID!, $name: String!) { createTeam(organizationId: $org, name: $name) {
  team { id } errors { code } } }"""
MEMBER = """mutation($team: ID!, $user: ID!, $admin: Boolean!) {
  addTeamMember(teamId: $team, userId: $user, admin: $admin) { ok errors { code field } } }"""


async def team(
    support: SignedClient,
    org: Org,
    name: str,
    members: list[Caller],
    admins: tuple[Caller, ...] = (),
) -> str:
    created = await support.run(TEAM, {"org": str(org.id), "name": name}, org.owner())
    team_id: str = created["createTeam"]["team"]["id"]
    for member in [*members, *admins]:
        variables = {"team": team_id, "user": str(member.user_id), "admin": member in admins}
        added = await support.run(MEMBER, variables, org.owner())
        assert added["addTeamMember"]["ok"], added
    return team_id


async def rating_links(owner_engine: AsyncEngine, user_id: object, count: int) -> list[str]:
    """The tokens of the first ``count`` rating links sent to ``user_id``, once sent."""
    query = text(
        "select body from notifications.notifications where user_id = :u"
        " and template_key = 'ticket_updated' order by created_at"
    )
    for _ in range(500):
        async with owner_engine.connect() as connection:
            bodies = list((await connection.execute(query, {"u": user_id})).scalars())
        if len(bodies) >= count:
            return [link_token(b) for b in bodies]
        await asyncio.sleep(0.02)
    raise AssertionError("no rating link was sent")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
REQUEST = """mutation($input: RequestAttachmentUploadInput!) {
  requestAttachmentUpload(input: $input) {
    upload { attachmentId url fields expiresAt } errors { code field message } } }"""


async def request_upload(
    support: SignedClient, caller: Caller, size: int, **input: Any
) -> dict[str, Any]:
    values = {
        "organizationId": str(caller.org_id),
        "fileName": "screen.png",
        "contentType": "image/png",
        "sizeBytes": size,
    }
    data = await support.run(REQUEST, {"input": {**values, **input}}, caller)
    payload: dict[str, Any] = data["requestAttachmentUpload"]
    return payload


async def uploaded(
    support: SignedClient, caller: Caller, data: bytes = PNG, content_type: str = "image/png"
) -> str:
    """An attachment id whose file is in storage, uploaded as a browser would."""
    payload = await request_upload(support, caller, len(data), contentType=content_type)
    assert payload["errors"] == [], payload["errors"]
    upload = payload["upload"]
    async with httpx.AsyncClient() as client:
        response = await client.post(
            upload["url"], data=upload["fields"], files={"file": ("screen.png", data)}
        )
    assert response.status_code in (200, 201, 204), response.text
    attachment_id: str = upload["attachmentId"]
    return attachment_id
