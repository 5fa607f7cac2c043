"""Merging tickets: the source's comments move to the target, the source is closed as merged
and points at it; merging into itself or a merged ticket is refused."""

from __future__ import annotations

from typing import Any

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import Org, codes, comment, ticket

MERGE = """mutation($input: MergeTicketsInput!) { mergeTickets(input: $input) {
  ticket { id commentCount } errors { code field message } } }"""
READ = """query($id: ID!) { ticket(id: $id) { status mergedInto { id } commentCount } }"""


async def merge(support: SignedClient, caller: Any, source: str, target: str) -> dict[str, Any]:
    data = await support.run(MERGE, {"input": {"sourceId": source, "targetId": target}}, caller)
    payload: dict[str, Any] = data["mergeTickets"]
    return payload


async def test_merging_moves_the_thread_and_closes_the_source(support: SignedClient) -> None:
    org = Org()
    owner, requester = org.owner(), org.caller()
    source, target = await ticket(support, requester), await ticket(support, requester)
    await comment(support, owner, source["id"], "<p>On the duplicate</p>")
    await comment(support, owner, target["id"], "<p>On the original</p>")
    merged = await merge(support, owner, source["id"], target["id"])
    assert merged["errors"] == []
    assert merged["ticket"] == {"id": target["id"], "commentCount": 2}
    closed = (await support.run(READ, {"id": source["id"]}, owner))["ticket"]
    assert closed == {"status": "MERGED", "mergedInto": {"id": target["id"]}, "commentCount": 0}

    again = await merge(support, owner, source["id"], target["id"])
    assert codes(again) == [("ALREADY_MERGED", "sourceId")]
    itself = await merge(support, owner, target["id"], target["id"])
    assert codes(itself) == [("CANNOT_MERGE_INTO_ITSELF", "targetId")]


async def test_only_agents_merge_tickets_of_their_organization(support: SignedClient) -> None:
    org = Org()
    requester = org.caller()
    mine, also = await ticket(support, requester), await ticket(support, requester)
    assert codes(await merge(support, requester, mine["id"], also["id"])) == [("FORBIDDEN", None)]
    theirs = await ticket(support, Org().caller())
    assert codes(await merge(support, org.owner(), mine["id"], theirs["id"])) == [
        ("NOT_FOUND", None)
    ]
    read = await support.run(READ, {"id": mine["id"]}, org.owner())
    assert read["ticket"]["status"] == "NEW"
