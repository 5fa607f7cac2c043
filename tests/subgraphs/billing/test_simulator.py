"""The pricing simulator: an organization's real ledger invoiced on its current plan and on a
draft, month by month, with the difference per line; owners only, bad input named by field,
nothing of another organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from core.caller import Caller
from subgraphs.billing.ledger import Ledger
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import Database
from subgraphs.kernel.usage import UsageRecord
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner
from vetrai.settings import PlatformSettings

SIMULATE = """query($org: ID!, $draft: DraftPlanInput!, $from: Date!, $to: Date!) {
  simulatePlan(organizationId: $org, draftPlan: $draft, from: $from, to: $to) {
    current { totalCents lines { key quantity amountCents } }
    draft { totalCents lines { key description quantity amountCents } }
    diff { key currentCents draftCents deltaCents }
    errors { code field } } }"""
DRAFT = {
    "priceCents": 1000,
    "meters": [
        {"meter": "tickets", "included": 120, "overageCentsPerUnit": "2.5"},
        {"meter": "api_requests", "included": 10000, "overageCentsPerUnit": "0.0015"},
    ],
}


@pytest.fixture
async def ledger(settings: PlatformSettings) -> AsyncIterator[Ledger]:
    assert settings.core.redis_url
    db, redis = (
        Database(settings.core.login_url("billing")),
        Redis.from_url(settings.core.redis_url),
    )
    yield Ledger(db, redis, catalogue().meters)
    await redis.aclose()
    await db.close()


async def _use(ledger: Ledger, caller: Caller, meter: str, quantity: int, at: datetime) -> None:
    assert caller.org_id
    assert await ledger.record(UsageRecord(caller.org_id, meter, quantity, at, f"t:{uuid4()}"))


async def simulate(
    billing: SignedClient,
    caller: Caller,
    draft: dict[str, Any] = DRAFT,
    span: tuple[str, str] = ("2026-11-01", "2026-12-31"),
) -> dict[str, Any]:
    variables = {"org": str(caller.org_id), "draft": draft, "from": span[0], "to": span[1]}
    found: dict[str, Any] = (await billing.run(SIMULATE, variables, caller))["simulatePlan"]
    return found


async def test_the_ledger_is_invoiced_on_both_plans_month_by_month(
    billing: SignedClient, ledger: Ledger
) -> None:
    caller = owner()  # on the free plan: 100 tickets and 10 000 requests a month included
    await _use(ledger, caller, "tickets", 150, datetime(2026, 11, 3, 9, tzinfo=UTC))
    await _use(ledger, caller, "tickets", 50, datetime(2026, 12, 30, 23, tzinfo=UTC))
    await _use(ledger, caller, "api_requests", 11000, datetime(2026, 11, 30, 23, tzinfo=UTC))
    await _use(ledger, caller, "tickets", 999, datetime(2027, 1, 1, tzinfo=UTC))  # after `to`
    found = await simulate(billing, caller)
    assert found["errors"] == []
    current = {line["key"]: line for line in found["current"]["lines"]}
    assert current["plan"] == {"key": "plan", "quantity": 2, "amountCents": 0}
    assert current["tickets"] == {"key": "tickets", "quantity": 50, "amountCents": 0}
    assert current["api_requests"]["quantity"] == 1000
    assert found["current"]["totalCents"] == 0
    draft = {line["key"]: line for line in found["draft"]["lines"]}
    assert [line["key"] for line in found["draft"]["lines"]] == ["plan", "tickets", "api_requests"]
    assert (draft["plan"]["quantity"], draft["plan"]["amountCents"]) == (2, 2000)
    assert (draft["tickets"]["quantity"], draft["tickets"]["amountCents"]) == (30, 75)
    # 1000 * 0.0015 = 1.5 cents, rounded half up
    assert (draft["api_requests"]["quantity"], draft["api_requests"]["amountCents"]) == (1000, 2)
    assert found["draft"]["totalCents"] == 2077
    assert found["diff"] == [
        {"key": "plan", "currentCents": 0, "draftCents": 2000, "deltaCents": 2000},
        {"key": "api_requests", "currentCents": 0, "draftCents": 2, "deltaCents": 2},
        {"key": "jobs", "currentCents": 0, "draftCents": 0, "deltaCents": 0},
        {"key": "notifications", "currentCents": 0, "draftCents": 0, "deltaCents": 0},
        {"key": "tickets", "currentCents": 0, "draftCents": 75, "deltaCents": 75},
    ]


async def test_bad_drafts_and_ranges_are_refused_by_field(billing: SignedClient) -> None:
    caller = owner()
    bad = [
        ({**DRAFT, "priceCents": -1}, "draftPlan.priceCents"),
        ({**DRAFT, "meters": [{"meter": "gigabytes", "included": 1}]}, "draftPlan.meters"),
        ({**DRAFT, "meters": [{"meter": "jobs", "included": -1}]}, "draftPlan.meters"),
        (
            {**DRAFT, "meters": [{"meter": "jobs", "included": 1, "overageCentsPerUnit": "-1"}]},
            "draftPlan.meters",
        ),
        (
            {**DRAFT, "meters": [{"meter": "jobs", "included": 1, "overageCentsPerUnit": "1e-9"}]},
            "draftPlan.meters",
        ),
        ({**DRAFT, "meters": [{"meter": "jobs", "included": 1}] * 2}, "draftPlan.meters"),
    ]
    for draft, field in bad:
        found = await simulate(billing, caller, draft)
        assert found["current"] is None
        assert found["errors"] == [{"code": "INVALID_INPUT", "field": field}], draft
    backwards = await simulate(billing, caller, span=("2026-12-01", "2026-11-01"))
    assert backwards["errors"] == [{"code": "INVALID_INPUT", "field": "from"}]


async def test_only_owners_simulate_and_only_their_organization(
    billing: SignedClient, ledger: Ledger
) -> None:
    caller = owner()
    await _use(ledger, caller, "tickets", 500, datetime(2026, 11, 3, tzinfo=UTC))
    member = Caller(user_id=uuid4(), org_id=caller.org_id, roles=frozenset({"member"}))
    assert (await simulate(billing, member))["errors"] == [{"code": "FORBIDDEN", "field": None}]
    theirs = await simulate(billing, owner())  # another organization: none of its use
    assert {d["key"]: d["draftCents"] for d in theirs["diff"]}["tickets"] == 0
    elsewhere = Caller(user_id=caller.user_id, org_id=uuid4(), roles=frozenset({"owner"}))
    variables = {
        "org": str(caller.org_id),
        "draft": DRAFT,
        "from": "2026-11-01",
        "to": "2026-11-30",
    }
    found = (await billing.run(SIMULATE, variables, elsewhere))["simulatePlan"]
    assert found["errors"] == [{"code": "NOT_FOUND", "field": "organizationId"}]
