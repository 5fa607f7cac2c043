"""Similar tickets (full-text): ranked by words in common, never across organizations, and
for a requester only among their own tickets."""

from __future__ import annotations

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import Org, ticket

SIMILAR = (
    """query($id: ID!) { ticket(id: $id) { similar(first: 5) { score ticket { id title } } } }"""
)
SUGGEST = """query($org: ID!, $title: String!) {
  suggestSimilar(organizationId: $org, title: $title) { score ticket { id title } } }"""


async def test_similar_tickets_share_words_and_stay_in_their_organization(
    support: SignedClient,
) -> None:
    org, other = Org(), Org()
    requester = org.caller()
    source = await ticket(support, requester, title="My invoice was charged twice")
    close = await ticket(
        support, org.caller(), title="Invoice charged twice in March", body="<p>Two charges</p>"
    )
    await ticket(support, org.caller(), title="Cannot upload a logo", body="<p>Upload fails</p>")
    await ticket(support, other.caller(), title="My invoice was charged twice")

    found = (await support.run(SIMILAR, {"id": source["id"]}, org.owner()))["ticket"]["similar"]
    assert [s["ticket"]["id"] for s in found] == [close["id"]]
    assert 0 < found[0]["score"] <= 1

    suggested = await support.run(
        SUGGEST, {"org": str(org.id), "title": "charged twice for an invoice"}, org.owner()
    )
    ids = {s["ticket"]["id"] for s in suggested["suggestSimilar"]}
    assert ids == {source["id"], close["id"]}

    own = (await support.run(SIMILAR, {"id": source["id"]}, requester))["ticket"]["similar"]
    assert own == []
    stranger = await support.run(
        SUGGEST, {"org": str(org.id), "title": "invoice charged twice"}, other.owner()
    )
    assert stranger["suggestSimilar"] == []
