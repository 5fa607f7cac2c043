"""A member who leaves an organization leaves their tickets, comments and keys behind: through
the router those stay listed, and only the person (auth's `User`, no longer visible to the
organization) reads as null."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.router.platform.builders import invited_member
from tests.router.platform.conftest import RouterClient
from tests.router.platform.test_identity_changes import as_member, member_action, until

OPEN = """mutation($o: ID!) { createTicket(input: {organizationId: $o, title: "Cannot log in",
  body: "<p>Help</p>"}) { ticket { id } errors { code message } } }"""
COMMENT = """mutation($t: ID!, $b: String!, $m: [ID!]) { addComment(input: {ticketId: $t,
  body: $b, mentionIds: $m}) { comment { id } errors { code message } } }"""
KEY = """mutation($o: ID!) { createApiKey(input: {organizationId: $o, name: "ci",
  scopes: ["tickets:read"]}) { apiKey { id } errors { code message } } }"""
LEAVE = """mutation($o: ID!, $u: ID!) { removeMember(input: {organizationId: $o, userId: $u})
  { errors { code } } }"""
READ = """query($o: ID!) { organization(id: $o) {
  tickets(first: 10) { edges { node { title requester { id email }
    comments(first: 10) { edges { node { body author { email } mentions { email } } } } } } }
  apiKeys(includeRevoked: true) { name createdBy { email } } } }"""


async def test_what_a_departed_member_made_stays_listed_without_them(
    router: RouterClient, owner_engine: AsyncEngine, worker: None
) -> None:
    owner, org = await router.owner_of_new_organization()
    member_id, member = await invited_member(router, owner_engine, owner, org, "ADMIN")
    opened = await router.data(OPEN, {"o": org}, **as_member(member, org))
    assert opened["createTicket"]["errors"] == []
    ticket = opened["createTicket"]["ticket"]["id"]
    said = await router.data(COMMENT, {"t": ticket, "b": "Me again"}, **as_member(member, org))
    assert said["addComment"]["errors"] == []
    reply = {"t": ticket, "b": "Looking", "m": [member_id]}
    answered = await router.data(COMMENT, reply, authorization=f"Bearer {owner}")
    assert answered["addComment"]["errors"] == []
    assert (await router.data(KEY, {"o": org}, **as_member(member, org)))["createApiKey"][
        "errors"
    ] == []

    async def read() -> dict[str, Any]:
        body: dict[str, Any] = (
            await router.post(READ, {"o": org}, authorization=f"Bearer {owner}")
        ).json()
        return body

    before = await read()
    assert "errors" not in before, before
    node = before["data"]["organization"]["tickets"]["edges"][0]["node"]
    assert node["requester"] == {"id": member_id, "email": node["requester"]["email"]}

    await member_action(router, owner, LEAVE, {"o": org, "u": member_id})

    async def departed() -> bool:
        node = (await read())["data"]["organization"]["tickets"]["edges"][0]["node"]
        return bool(node["requester"] is None)

    await until(departed)
    after = await read()
    organization = after["data"]["organization"]
    assert organization["apiKeys"] == [{"name": "ci", "createdBy": None}]
    node = organization["tickets"]["edges"][0]["node"]
    assert (node["title"], node["requester"]) == ("Cannot log in", None)
    comments = [edge["node"] for edge in node["comments"]["edges"]]
    owner_email = before_comments(before)[1]["author"]["email"]
    assert comments == [
        {"body": "Me again", "author": None, "mentions": []},
        {"body": "Looking", "author": {"email": owner_email}, "mentions": [None]},
    ]
    # auth no longer answers for the person: each place they appeared says so, and only there
    tickets = ["organization", "tickets", "edges", 0, "node"]
    comment = [*tickets, "comments", "edges", 0, "node"]
    reply_path = [*tickets, "comments", "edges", 1, "node"]
    assert sorted(e["path"][:-1] for e in after["errors"]) == sorted(
        [
            [*tickets, "requester"],
            [*comment, "author"],
            [*reply_path, "mentions", 0],
            ["organization", "apiKeys", 0, "createdBy"],
        ]
    ), after["errors"]


def before_comments(body: dict[str, Any]) -> list[dict[str, Any]]:
    node = body["data"]["organization"]["tickets"]["edges"][0]["node"]
    return [edge["node"] for edge in node["comments"]["edges"]]
