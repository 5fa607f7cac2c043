"""Monthly pacing of a yearly plan's included units: the year's units are granted a twelfth each
calendar month, so its quota, entitlements, usage and overage are counted month by month (a
month's unused units never offset another's overage), and the pricing simulator counts the same
overage; a catalogue that pacing or the spend cap could not honour is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from core.caller import Caller
from subgraphs.billing.ledger import Ledger
from subgraphs.billing.plans import catalogue, read_catalogue
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.usage import UsageRecord
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner
from tests.subgraphs.billing.test_simulator import simulate
from tests.subgraphs.billing.test_subscriptions import ENTITLEMENTS, org_ref, start
from vetrai.settings import PlatformSettings

YEARLY = "pro_yearly"
MONTHLY_REQUESTS = 1_000_000  # a twelfth of the plan's 12 000 000 a year
PLAN_METERS = """query { plans { key interval features { key limit }
  meters { key includedUnits includedPerMonth } } }"""
USAGE = """query($r: [_Any!]!, $from: Date!, $to: Date!) { _entities(representations: $r) {
  ... on Organization { billing { usage(meter: "api_requests", from: $from, to: $to) {
  total included overage errors { code field } } } } } }"""
FREE_PLAN = (
    "{key: free, name: Free, interval: month, price_cents: 0, currency: usd,"
    " trial_days: 0, grace_days: 0}"
)


@pytest.fixture
async def ledger(settings: PlatformSettings) -> AsyncIterator[Ledger]:
    assert settings.core.redis_url
    db = Database(settings.core.login_url("billing"))
    redis = Redis.from_url(settings.core.redis_url)
    yield Ledger(db, redis, catalogue().meters)
    await redis.aclose()
    await db.close()


async def _requests(ledger: Ledger, caller: Caller, quantity: int, at: datetime) -> None:
    assert caller.org_id
    record = UsageRecord(caller.org_id, "api_requests", quantity, at, f"test:{uuid4()}")
    assert await ledger.record(record)


async def test_a_yearly_plan_grants_a_twelfth_of_its_units_each_month(
    billing: SignedClient,
) -> None:
    plans = {p["key"]: p for p in (await billing.run(PLAN_METERS))["plans"]}
    yearly, monthly = plans[YEARLY], plans["pro"]
    assert yearly["interval"] == "year"
    requests = next(m for m in yearly["meters"] if m["key"] == "api_requests")
    assert requests == {
        "key": "api_requests",
        "includedUnits": 12 * MONTHLY_REQUESTS,
        "includedPerMonth": MONTHLY_REQUESTS,
    }
    # The quota is the month's share, as on the monthly plan, not the year's units at once.
    quota = {"key": "api_requests_per_month", "limit": MONTHLY_REQUESTS}
    assert quota in yearly["features"]
    assert quota in monthly["features"]
    assert all(m["includedUnits"] == m["includedPerMonth"] for m in monthly["meters"])


async def test_a_yearly_organizations_overage_is_counted_month_by_month(
    billing: SignedClient, ledger: Ledger
) -> None:
    caller = owner()
    assert (await start(billing, caller, YEARLY))["errors"] == []
    await _requests(ledger, caller, 1_500_000, datetime(2026, 10, 15, 9, tzinfo=UTC))
    await _requests(ledger, caller, 200_000, datetime(2026, 11, 10, 9, tzinfo=UTC))
    variables = {**org_ref(caller), "from": "2026-10-01", "to": "2026-11-30"}
    found = (await billing.run(USAGE, variables, caller))["_entities"][0]
    # Pooled, two months' 2 000 000 units would cover 1 700 000; paced, October went 500 000
    # past its month's units and November's unused ones do not make up for it.
    assert found["billing"]["usage"] == {
        "total": 1_700_000,
        "included": 2 * MONTHLY_REQUESTS,
        "overage": 500_000,
        "errors": [],
    }
    november = {**variables, "from": "2026-11-01"}
    found = (await billing.run(USAGE, november, caller))["_entities"][0]
    assert found["billing"]["usage"]["overage"] == 0

    simulated = await simulate(billing, caller, span=("2026-10-01", "2026-11-30"))
    assert simulated["errors"] == []
    current = {line["key"]: line for line in simulated["current"]["lines"]}
    assert current["api_requests"]["quantity"] == 500_000  # the usage query's overage
    assert current["plan"] == {"key": "plan", "quantity": 2, "amountCents": 4833}  # 2 x 29000/12


async def test_a_yearly_organizations_entitlements_are_this_months_share(
    billing: SignedClient, ledger: Ledger
) -> None:
    caller = owner()
    assert (await start(billing, caller, YEARLY))["errors"] == []
    now = utcnow()
    last_month = now.replace(day=1, hour=0, minute=0) - timedelta(hours=1)
    await _requests(ledger, caller, 900_000, last_month)
    await _requests(ledger, caller, 42, now)
    found = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert found["plan"] == YEARLY
    assert {
        "feature": "api_requests_per_month",
        "enabled": True,
        "limit": MONTHLY_REQUESTS,
        "used": 42,
    } in found["entitlements"]


@pytest.mark.parametrize(
    ("plan", "complaint"),
    [
        (
            "{key: y, name: Y, interval: year, price_cents: 100, currency: usd, trial_days: 0,"
            " grace_days: 0, meters: [{key: api_requests, included: 1000}]}",
            "do not split into 12 equal months",
        ),
        (
            "{key: y, name: Y, interval: year, price_cents: 100, currency: usd, trial_days: 0,"
            " grace_days: 0, meters: [{key: api_requests, included: 1200,"
            " overage_cents_per_unit: 0.1}]}",
            "a yearly plan has no overage price",
        ),
        (
            "{key: m, name: M, interval: month, price_cents: 100, currency: usd, trial_days: 0,"
            " grace_days: 0, meters: [{key: tickets, included: 10, overage_cents_per_unit: 5}]}",
            "only api_requests may have an overage price",
        ),
        (
            "{key: m, name: M, interval: month, price_cents: 100, currency: usd, trial_days: 0,"
            " grace_days: 0, meters: [{key: api_requests, included: 10}],"
            " features: [{key: api_requests_per_month, limit: 20, meter: api_requests}]}",
            "its limit is its meter's units a month",
        ),
    ],
)
def test_a_catalogue_that_pacing_or_the_spend_cap_cannot_honour_is_refused(
    tmp_path: Path, plan: str, complaint: str
) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text(f"plans: [{FREE_PLAN}, {plan}]")
    with pytest.raises(ValidationError, match=complaint):
        read_catalogue(plans)
