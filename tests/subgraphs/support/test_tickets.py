"""Tickets and comments through the support subgraph: numbering, statuses, custom fields,
sanitized bodies, who sees what (internal notes never reach the requester), mentions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import (
    UPDATE,
    Org,
    codes,
    comment,
    create_ticket,
    make_agent,
    set_status,
    ticket,
)

READ = """query($id: ID!) { ticket(id: $id) { number title requester { id } assignee { id }
  commentCount comments(first: 20) { edges { node { body internal author { id } } } } } }"""
LIST = """query($r: [_Any!]!, $filter: TicketFilterInput, $first: Int!) {
  _entities(representations: $r) {
  ... on Organization { tickets(filter: $filter, first: $first) {
    edges { node { number title requester { id } assignee { id } commentCount } }
    pageInfo { hasNextPage endCursor } } } } }"""
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Ticket { id title } ... on Comment { id body } } }"""
DEFINE = """mutation($input: DefineTicketFieldInput!) { defineTicketField(input: $input) {
  ok errors { code field message } } }"""


async def listed(
    support: SignedClient, org: Org, caller: Any, first: int = 20, **filter: Any
) -> list[dict[str, Any]]:
    variables = {"r": [{"__typename": "Organization", "id": str(org.id)}], "first": first}
    data = await support.run(LIST, {**variables, "filter": filter or None}, caller)
    return [e["node"] for e in data["_entities"][0]["tickets"]["edges"]]


async def test_ticket_numbers_count_from_one_in_each_organization(support: SignedClient) -> None:
    first, second = Org(), Org()
    numbers = [(await ticket(support, first.caller()))["number"] for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert (await ticket(support, second.caller()))["number"] == 1


async def test_status_changes_only_along_allowed_transitions(support: SignedClient) -> None:
    org = Org()
    agent = org.owner()
    created = await ticket(support, org.caller())
    assert created["status"] == "NEW"
    assert (await set_status(support, agent, created["id"], "PENDING"))["errors"] == []
    assert (await set_status(support, agent, created["id"], "RESOLVED"))["errors"] == []
    refused = await set_status(support, agent, created["id"], "PENDING")
    assert codes(refused) == [("INVALID_STATUS_TRANSITION", "status")]
    merged = await set_status(support, agent, created["id"], "MERGED")
    assert codes(merged) == [("INVALID_STATUS_TRANSITION", "status")]
    reopened = await set_status(support, agent, created["id"], "OPEN")
    assert reopened["errors"] == []
    assert reopened["ticket"]["status"] == "OPEN"


async def test_requesters_cannot_change_status(support: SignedClient) -> None:
    org = Org()
    requester = org.caller()
    created = await ticket(support, requester)
    assert codes(await set_status(support, requester, created["id"], "CLOSED")) == [
        ("FORBIDDEN", None)
    ]


async def test_custom_fields_are_checked_against_the_organizations_definitions(
    support: SignedClient,
) -> None:
    org = Org()
    define = {"organizationId": str(org.id), "key": "plan", "type": "CHOICE", "required": True}
    data = await support.run(DEFINE, {"input": {**define, "options": ["free", "pro"]}}, org.owner())
    assert data["defineTicketField"]["errors"] == []
    member = org.caller()
    missing = await create_ticket(support, member)
    assert codes(missing) == [("INVALID_INPUT", "customFields.plan")]
    wrong = await create_ticket(support, member, customFields={"plan": "gold", "seats": 3})
    assert sorted(codes(wrong)) == [
        ("INVALID_INPUT", "customFields.plan"),
        ("INVALID_INPUT", "customFields.seats"),
    ]
    good = await ticket(support, member, customFields={"plan": "pro"})
    assert good["customFields"] == {"plan": "pro"}
    elsewhere = await ticket(support, Org().caller())
    assert elsewhere["customFields"] == {}


async def test_bodies_keep_only_allowed_html_and_links_get_safe_rel(support: SignedClient) -> None:
    org = Org()
    body = (
        '<p onclick="steal()">Hi <script>alert(1)</script><a href="https://x.test">x</a>'
        '<img src=x onerror="steal()"><a href="javascript:steal()">y</a></p>'
    )
    created = await ticket(support, org.caller(), body=body)
    assert "script" not in created["body"]
    assert "onclick" not in created["body"]
    assert "onerror" not in created["body"]
    assert "javascript" not in created["body"]
    assert 'href="https://x.test" rel="noopener noreferrer nofollow"' in created["body"]
    empty = await create_ticket(support, org.caller(), body="<script>only this</script>")
    assert codes(empty) == [("INVALID_INPUT", "body")]


async def test_bad_input_is_reported_and_creates_nothing(support: SignedClient) -> None:
    org = Org()
    member = org.caller()
    payload = await create_ticket(support, member, title=" ", body="x" * 50_001, tags=["a" * 51])
    assert sorted(codes(payload)) == [
        ("INVALID_INPUT", "body"),
        ("INVALID_INPUT", "tags"),
        ("INVALID_INPUT", "title"),
    ]
    malformed = await create_ticket(support, member, organizationId="not-an-id")
    assert codes(malformed) == [("INVALID_INPUT", "organizationId")]
    other_org = await create_ticket(support, member, organizationId=str(Org().id))
    assert codes(other_org) == [("NOT_FOUND", "organizationId")]
    bad_comment = await comment(support, member, "nope")
    assert codes(bad_comment) == [("INVALID_INPUT", "ticketId")]
    assert await listed(support, org, org.owner()) == []


async def test_requesters_see_only_their_tickets_and_never_internal_notes(
    support: SignedClient,
) -> None:
    org = Org()
    owner, requester, other = org.owner(), org.caller(), org.caller()
    mine = await ticket(support, requester, title="Mine")
    await ticket(support, other, title="Theirs")
    assert (await comment(support, owner, mine["id"], "<p>Public answer</p>"))["errors"] == []
    note = await comment(support, owner, mine["id"], "<p>Checking with finance</p>", internal=True)
    assert note["comment"]["internal"] is True

    as_requester = (await support.run(READ, {"id": mine["id"]}, requester))["ticket"]
    bodies = [e["node"]["body"] for e in as_requester["comments"]["edges"]]
    assert bodies == ["<p>Public answer</p>"]
    assert as_requester["commentCount"] == 1
    as_agent = (await support.run(READ, {"id": mine["id"]}, owner))["ticket"]
    assert as_agent["commentCount"] == 2
    assert [e["node"]["internal"] for e in as_agent["comments"]["edges"]] == [False, True]

    assert [t["title"] for t in await listed(support, org, requester)] == ["Mine"]
    assert {t["title"] for t in await listed(support, org, owner)} == {"Mine", "Theirs"}
    assert (await support.run(READ, {"id": mine["id"]}, other))["ticket"] is None
    refused = await comment(support, requester, mine["id"], "<p>secret</p>", internal=True)
    assert codes(refused) == [("FORBIDDEN", None)]


async def test_marked_agents_see_internal_notes_and_others_do_not(support: SignedClient) -> None:
    org = Org()
    agent, member = org.caller(), org.caller()
    created = await ticket(support, member)
    assert codes(await comment(support, agent, created["id"], internal=True)) == [
        ("NOT_FOUND", None)
    ]
    await make_agent(support, org, agent)
    assert (await comment(support, agent, created["id"], internal=True))["errors"] == []
    assert (await support.run(READ, {"id": created["id"]}, agent))["ticket"]["commentCount"] == 1
    assert (await support.run(READ, {"id": created["id"]}, member))["ticket"]["commentCount"] == 0


async def test_tickets_are_assigned_to_agents_only(support: SignedClient) -> None:
    org = Org()
    owner, agent, member = org.owner(), org.caller(), org.caller()
    created = await ticket(support, member, tags=["Billing"])
    update = {"ticketId": created["id"], "assigneeId": str(member.user_id)}
    refused = (await support.run(UPDATE, {"input": update}, owner))["updateTicket"]
    assert codes(refused) == [("ASSIGNEE_NOT_AGENT", "assigneeId")]
    await make_agent(support, org, agent)
    update["assigneeId"] = str(agent.user_id)
    assigned = (await support.run(UPDATE, {"input": update}, owner))["updateTicket"]
    assert assigned["ticket"]["assignee"] == {"id": str(agent.user_id)}
    await ticket(support, member, tags=["other"])
    by_assignee = await listed(support, org, owner, assigneeId=str(agent.user_id))
    assert [t["number"] for t in by_assignee] == [created["number"]]
    assert [t["number"] for t in await listed(support, org, owner, tag="billing")] == [1]
    assert len(await listed(support, org, owner, status="NEW")) == 2


async def test_pages_follow_the_cursor_without_repeats(support: SignedClient) -> None:
    org = Org()
    for _ in range(5):
        await ticket(support, org.caller())
    query = """query($r: [_Any!]!, $after: String) { _entities(representations: $r) {
      ... on Organization { tickets(first: 2, after: $after) {
        edges { node { number } } pageInfo { hasNextPage endCursor } } } } }"""
    seen, after = [], None
    while True:
        variables = {"r": [{"__typename": "Organization", "id": str(org.id)}], "after": after}
        page = (await support.run(query, variables, org.owner()))["_entities"][0]["tickets"]
        seen += [e["node"]["number"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [5, 4, 3, 2, 1]
    bad = await support.post(query, {**variables, "after": "bogus"}, org.owner())
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_another_organizations_tickets_and_comments_resolve_to_null(
    support: SignedClient,
) -> None:
    mine, theirs = Org(), Org()
    created = await ticket(support, theirs.caller())
    note = await comment(support, theirs.owner(), created["id"])
    representations = [
        {"__typename": "Ticket", "id": created["id"]},
        {"__typename": "Comment", "id": note["comment"]["id"]},
    ]
    data = await support.run(ENTITIES, {"r": representations}, mine.owner())
    assert data["_entities"] == [None, None]
    unsigned = await support.run(ENTITIES, {"r": representations})
    assert unsigned["_entities"] == [None, None]
    own = await support.run(ENTITIES, {"r": representations}, theirs.owner())
    assert own["_entities"][0]["id"] == created["id"]


async def test_row_security_hides_other_organizations_rows(support: SignedClient) -> None:
    org = Org()
    await ticket(support, org.caller())
    runtime = support.client._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.transaction(Org().owner()) as session:
        rows = await session.exec(
            text("select count(*) from support.tickets where org_id = :o").bindparams(o=org.id)
        )
        assert rows.scalar_one() == 0


async def test_twenty_tickets_with_people_and_comment_counts_cost_at_most_three_queries(
    support: SignedClient,
) -> None:
    org = Org()
    owner = org.owner()
    for i in range(20):
        created = await ticket(support, org.caller(), title=f"Ticket {i}")
        await comment(support, owner, created["id"])
    runtime = support.client._transport.app.state.runtime  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "support." in statement:
            statements.append(statement)

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        found = await listed(support, org, owner)
        elapsed = time.perf_counter() - started
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    assert len(found) == 20
    assert all(t["commentCount"] == 1 and t["requester"]["id"] for t in found)
    assert len(statements) <= 3, statements
    print(f"20 tickets: {len(statements)} queries, {elapsed * 1000:.1f} ms")


async def test_mentioned_agents_are_notified(
    support: SignedClient, owner_engine: AsyncEngine, worker: None
) -> None:
    org = Org()
    agent, member = org.caller(), org.caller()
    await make_agent(support, org, agent)
    created = await ticket(support, member)
    refused = await comment(
        support, org.owner(), created["id"], internal=True, mentionIds=[str(member.user_id)]
    )
    assert codes(refused) == [("INVALID_INPUT", "mentionIds")]
    done = await comment(
        support, org.owner(), created["id"], internal=True, mentionIds=[str(agent.user_id)]
    )
    assert done["errors"] == []
    query = text(
        "select count(*) from notifications.notifications"
        " where user_id = :u and template_key = 'ticket_updated'"
    )
    for _ in range(500):
        async with owner_engine.connect() as connection:
            if await connection.scalar(query, {"u": agent.user_id}):
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the mentioned agent was not notified")
    async with owner_engine.connect() as connection:
        assert await connection.scalar(query, {"u": member.user_id}) == 0


async def test_every_support_table_forces_row_security(owner_engine: AsyncEngine) -> None:
    query = text(
        "select c.relname, c.relrowsecurity and c.relforcerowsecurity from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'support' and c.relkind = 'r' and c.relname <> 'alembic_version'"
    )
    async with owner_engine.connect() as connection:
        tables: dict[str, bool] = dict((await connection.execute(query)).all())
    assert len(tables) == 14
    assert all(tables.values()), tables
