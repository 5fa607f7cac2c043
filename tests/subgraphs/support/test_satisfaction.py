"""Satisfaction: every resolution sends the requester a single-use rating link (only its hash
is stored); a link rates once, a bogus or used one is refused."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import Org, codes, rating_links, set_status, ticket

RATE = """mutation($token: String!, $score: Int!) { rateTicket(token: $token, score: $score,
  comment: "Fast") { errors { code message } } }"""
RATE_FIELDS = """mutation($token: String!, $score: Int!) { rateTicket(token: $token,
  score: $score) { errors { code field message } } }"""


async def test_each_resolution_sends_a_single_use_rating_link(
    support: SignedClient, owner_engine: AsyncEngine, worker: None
) -> None:
    org = Org()
    requester = org.caller()
    created = await ticket(support, requester)
    assert (await set_status(support, org.owner(), created["id"], "RESOLVED"))["errors"] == []
    [token] = await rating_links(owner_engine, requester.user_id, 1)
    rated = await support.run(RATE, {"token": token, "score": 5})
    assert rated["rateTicket"]["errors"] == []
    again = await support.run(RATE, {"token": token, "score": 1})
    assert codes(again["rateTicket"]) == [("RATING_ALREADY_GIVEN", None)]

    assert (await set_status(support, org.owner(), created["id"], "OPEN"))["errors"] == []
    assert (await set_status(support, org.owner(), created["id"], "RESOLVED"))["errors"] == []
    first, second = await rating_links(owner_engine, requester.user_id, 2)
    assert first == token
    assert second != token
    assert (await support.run(RATE, {"token": second, "score": 3}))["rateTicket"]["errors"] == []
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text("select score, comment, token_hash from support.ratings where ticket_id = :t"),
            {"t": created["id"]},
        )
        stored = sorted((r.score, r.comment) for r in rows)
        assert stored == [(3, "Fast"), (5, "Fast")]
        hashes = await connection.scalar(
            text("select count(*) from support.ratings where token_hash = :t"), {"t": token}
        )
        assert hashes == 0  # only the hash is kept


async def test_bad_tokens_and_scores_are_refused(support: SignedClient) -> None:
    bogus = await support.run(RATE_FIELDS, {"token": "nope", "score": 5})
    assert codes(bogus["rateTicket"]) == [("INVALID_TOKEN", "token")]
    out_of_range = await support.run(RATE_FIELDS, {"token": "nope", "score": 6})
    assert codes(out_of_range["rateTicket"]) == [("INVALID_INPUT", "score")]
