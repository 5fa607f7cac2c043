"""Recall of similar tickets on a labeled fixture (similar_tickets.json: 64 tickets in groups
that say the same thing in other words): of each ticket's group, the share found among its
five most similar, embedded by the worker and read through the subgraph."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import Org, embedded, ticket

FIXTURE = Path(__file__).parent / "similar_tickets.json"
SIMILAR = """query($id: ID!) { ticket(id: $id) { similar(first: 5) { ticket { id } } } }"""


async def test_recall_at_five_on_the_labeled_fixture_is_at_least_four_fifths(
    support: SignedClient, worker: None, owner_engine: AsyncEngine
) -> None:
    groups: dict[str, list[list[str]]] = json.loads(FIXTURE.read_text())["groups"]
    org = Org()
    group_of: dict[str, str] = {}
    for name, tickets in groups.items():
        for title, body in tickets:
            created = await ticket(support, org.caller(), title=title, body=f"<p>{body}</p>")
            group_of[created["id"]] = name
    assert len(group_of) >= 60
    await embedded(owner_engine, list(group_of))

    recalls = []
    for ticket_id, name in group_of.items():
        data = await support.run(SIMILAR, {"id": ticket_id}, org.owner())
        found = {s["ticket"]["id"] for s in data["ticket"]["similar"]}
        same = {i for i, g in group_of.items() if g == name and i != ticket_id}
        recalls.append(len(found & same) / len(same))
    assert sum(recalls) / len(recalls) >= 0.8
