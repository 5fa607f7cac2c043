"""An API key in support: it acts as an agent on tickets that exist (reads them, changes their
status), but opens none, writes no comment and uploads no file, since requesters, authors and
uploaders are users; it is told so, and nothing is stored."""

from __future__ import annotations

from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import (
    Org,
    codes,
    comment,
    create_ticket,
    request_upload,
    set_status,
    ticket,
)

READ = "query($id: ID!) { ticket(id: $id) { id title } }"


def key_of(org: Org) -> Caller:
    """A key of ``org`` as the router signs it: no user, the ticket scopes."""
    return Caller(
        key_id=uuid4(), org_id=org.id, scopes=frozenset({"tickets:read", "tickets:write"})
    )


async def rows(owner_engine: AsyncEngine, org_id: UUID) -> tuple[int, int, int]:
    """The organization's tickets, comments and attachments."""
    counts = []
    async with owner_engine.connect() as connection:
        for table in ("tickets", "comments", "attachments"):
            query = text(f"select count(*) from support.{table} where org_id = :o")  # noqa: S608
            counts.append(int(await connection.scalar(query, {"o": org_id}) or 0))
    return counts[0], counts[1], counts[2]


async def test_a_key_is_refused_what_needs_a_person_and_stores_nothing(
    support: SignedClient, owner_engine: AsyncEngine
) -> None:
    org = Org()
    opened = await ticket(support, org.caller())
    key = key_of(org)
    before = await rows(owner_engine, org.id)

    created = await create_ticket(support, key)
    assert created["ticket"] is None
    assert codes(created) == [("FORBIDDEN", None)]
    assert "API key" in created["errors"][0]["message"]
    for internal in (False, True):
        answered = await comment(support, key, opened["id"], internal=internal)
        assert (answered["comment"], codes(answered)) == (None, [("FORBIDDEN", None)])
    upload = await request_upload(support, key, 100)
    assert (upload["upload"], codes(upload)) == (None, [("FORBIDDEN", None)])

    assert await rows(owner_engine, org.id) == before == (1, 0, 0)


async def test_a_key_still_reads_and_moves_its_organizations_tickets(
    support: SignedClient,
) -> None:
    org = Org()
    opened = await ticket(support, org.caller(), title="Printer on fire")
    key = key_of(org)
    read = await support.run(READ, {"id": opened["id"]}, key)
    assert read["ticket"] == {"id": opened["id"], "title": "Printer on fire"}
    moved = await set_status(support, key, opened["id"], "PENDING")
    assert (moved["errors"], moved["ticket"]["status"]) == ([], "PENDING")
    other = await support.run(READ, {"id": opened["id"]}, key_of(Org()))
    assert other["ticket"] is None
