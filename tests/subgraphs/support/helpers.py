"""Builders of the support tests: callers of one organization, tickets and comments made
through the subgraph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from core.caller import Caller
from tests.conftest import SignedClient

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


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e.get("field")) for e in payload["errors"]]
