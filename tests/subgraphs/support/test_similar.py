"""Similar tickets by embeddings (computed by the worker): near in meaning, not in words, never
across organizations (by the query and by row security), and for a requester only among their
own tickets."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.kernel.db import Database
from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import Org, embedded, ticket
from vetrai.settings import PlatformSettings

SIMILAR = """query($id: ID!, $first: Int!) { ticket(id: $id) {
  similar(first: $first) { score ticket { id title status } } } }"""
SUGGEST = """query($org: ID!, $title: String!, $body: String!) {
  suggestSimilar(organizationId: $org, title: $title, body: $body) { score ticket { id } } }"""


async def test_similar_tickets_are_near_in_meaning_and_stay_in_their_organization(
    support: SignedClient, worker: None, owner_engine: AsyncEngine
) -> None:
    org, other = Org(), Org()
    requester = org.caller()
    source = await ticket(support, requester, title="My invoice was charged twice")
    close = await ticket(
        support, org.caller(), title="I was billed two times", body="<p>Two payments</p>"
    )
    far = await ticket(support, org.caller(), title="Cannot upload a logo", body="<p>Fails</p>")
    twin = await ticket(support, other.caller(), title="My invoice was charged twice")
    await embedded(owner_engine, [source["id"], close["id"], far["id"], twin["id"]])

    data = await support.run(SIMILAR, {"id": source["id"], "first": 5}, org.owner())
    found = data["ticket"]["similar"]
    assert [s["ticket"]["id"] for s in found] == [close["id"], far["id"]]
    assert found[0]["ticket"]["status"] == "NEW"
    assert found[0]["score"] > 0.5 > found[1]["score"]
    nearest = await support.run(SIMILAR, {"id": source["id"], "first": 1}, org.owner())
    assert [s["ticket"]["id"] for s in nearest["ticket"]["similar"]] == [close["id"]]

    draft = {"org": str(org.id), "title": "Double charge on my card", "body": "<p>Twice</p>"}
    suggested = (await support.run(SUGGEST, draft, org.owner()))["suggestSimilar"]
    assert {s["ticket"]["id"] for s in suggested[:2]} == {source["id"], close["id"]}
    assert twin["id"] not in {s["ticket"]["id"] for s in suggested}

    own = (await support.run(SIMILAR, {"id": source["id"], "first": 5}, requester))["ticket"]
    assert own["similar"] == []
    assert (await support.run(SUGGEST, draft, other.owner()))["suggestSimilar"] == []


async def test_a_ticket_not_yet_embedded_has_no_similar_ones(support: SignedClient) -> None:
    org = Org()
    created = await ticket(support, org.caller(), title="Password reset mail never arrives")
    data = await support.run(SIMILAR, {"id": created["id"], "first": 5}, org.owner())
    assert data["ticket"]["similar"] == []


async def test_row_security_hides_another_organizations_embeddings(
    support: SignedClient, worker: None, owner_engine: AsyncEngine, settings: PlatformSettings
) -> None:
    org, other = Org(), Org()
    created = await ticket(support, org.caller(), title="Export to CSV times out")
    await embedded(owner_engine, [created["id"]])
    db = Database(settings.core.login_url("support"))
    read = text("select count(*) from support.ticket_embeddings where ticket_id = :t")
    try:
        async with db.transaction(Caller(org_id=org.id)) as session:
            mine = await session.scalar(read, {"t": UUID(created["id"])})
        async with db.transaction(Caller(org_id=other.id)) as session:
            theirs = await session.scalar(read, {"t": UUID(created["id"])})
        assert (mine, theirs) == (1, 0)
        with pytest.raises(DBAPIError, match="row-level security"):
            async with db.transaction(Caller(org_id=other.id)) as session:
                await session.exec(  # type: ignore[call-overload]
                    text(
                        "insert into support.ticket_embeddings values"
                        " (:t, :org, array_fill(0.1, array[384])::vector, now())"
                    ).bindparams(t=UUID(created["id"]), org=org.id)
                )
    finally:
        await db.close()
