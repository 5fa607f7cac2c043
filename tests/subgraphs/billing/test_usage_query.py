"""``Organization.billing.usage`` and ``entitlements.used`` read the ledger, the router's counters
not yet flushed included, against the plan's included units; a bad range or meter is
``INVALID_INPUT`` naming the field; another organization sees nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from core.caller import Caller
from subgraphs.billing.contract import hourly_requests_key
from subgraphs.billing.ledger import Ledger, hour_of
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.usage import UsageRecord
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner, until
from vetrai.settings import PlatformSettings

USAGE = """query($r: [_Any!]!, $meter: String!, $from: Date!, $to: Date!) {
  _entities(representations: $r) { ... on Organization {
  entitlements { feature limit used }
  billing { usage(meter: $meter, from: $from, to: $to) {
    total included overage errors { code field } } } } } }"""


@pytest.fixture
async def ledger(settings: PlatformSettings) -> AsyncIterator[Ledger]:
    url = settings.core.login_url("billing")
    assert settings.core.redis_url
    db, redis = Database(url), Redis.from_url(settings.core.redis_url)
    yield Ledger(db, redis, catalogue().meters)
    await redis.aclose()
    await db.close()


async def _usage(
    billing: SignedClient, caller: Caller, meter: str, first: date, last: date
) -> dict[str, Any]:
    variables = {
        "r": [{"__typename": "Organization", "id": str(caller.org_id)}],
        "meter": meter,
        "from": first.isoformat(),
        "to": last.isoformat(),
    }
    found: dict[str, Any] = (await billing.run(USAGE, variables, caller))["_entities"][0]
    return found


async def test_usage_counts_the_ledger_and_this_hours_counters_against_the_plan(
    billing: SignedClient, ledger: Ledger
) -> None:
    ada = owner()
    assert ada.org_id
    now = utcnow()
    today = now.date()
    counter = hourly_requests_key(str(ada.org_id), hour_of(now))
    await ledger.redis.set(counter, 10_004)
    await ledger.record(UsageRecord(ada.org_id, "api_requests", 3, now, f"test:{uuid4()}"))
    await ledger.record(UsageRecord(ada.org_id, "tickets", 2, now, f"test:{uuid4()}"))
    try:
        found = await _usage(billing, ada, "api_requests", today - timedelta(days=1), today)
        usage = found["billing"]["usage"]
        assert usage == {"total": 10_007, "included": 10_000, "overage": 7, "errors": []}
        tickets = await _usage(billing, ada, "tickets", today, today)
        assert tickets["billing"]["usage"]["total"] == 2
        assert tickets["billing"]["usage"]["included"] == 100
        used = {e["feature"]: e["used"] for e in found["entitlements"]}
        assert used["api_requests_per_month"] == 10_007
        assert used["api_keys"] is None
        before = await _usage(billing, ada, "api_requests", today - timedelta(days=30), today)
        assert before["billing"]["usage"]["total"] == 10_007
        earlier = await _usage(
            billing, ada, "api_requests", today - timedelta(days=30), today - timedelta(days=1)
        )
        assert earlier["billing"]["usage"]["total"] == 0
    finally:
        await ledger.redis.delete(counter)


async def test_a_flushed_hour_is_counted_once(billing: SignedClient, ledger: Ledger) -> None:
    ada = owner()
    assert ada.org_id
    hour = hour_of(utcnow()) - timedelta(hours=3)
    counter = hourly_requests_key(str(ada.org_id), hour)
    await ledger.redis.set(counter, 40)
    first, last = hour.date(), hour.date() + timedelta(days=1)
    unflushed = await _usage(billing, ada, "api_requests", first, last)
    assert unflushed["billing"]["usage"]["total"] == 40
    await _flushed(ledger, counter)
    flushed = await _usage(billing, ada, "api_requests", first, last)
    assert flushed["billing"]["usage"]["total"] == 40
    await ledger.redis.set(counter, 40)  # deleted late: still counted once
    try:
        again = await _usage(billing, ada, "api_requests", first, last)
        assert again["billing"]["usage"]["total"] == 40
    finally:
        await ledger.redis.delete(counter)


async def _flushed(ledger: Ledger, counter: str) -> None:
    async def gone() -> bool:
        await ledger.flush_requests()
        return not await ledger.redis.exists(counter)

    await until(gone, "the counter flushed")


@pytest.mark.parametrize(
    ("meter", "first", "last", "fields"),
    [
        ("api_requests", date(2026, 11, 30), date(2026, 11, 1), ["from"]),
        ("api_requests", date(2025, 1, 1), date(2026, 1, 2), ["to"]),
        ("gigabytes", date(2026, 11, 1), date(2026, 11, 30), ["meter"]),
        ("gigabytes", date(2026, 11, 30), date(2026, 11, 1), ["meter", "from"]),
        ("api_requests", date(9999, 12, 30), date.max, ["to"]),
    ],
)
async def test_a_bad_range_or_meter_is_invalid_input_naming_the_field(
    billing: SignedClient, meter: str, first: date, last: date, fields: list[str]
) -> None:
    found = await _usage(billing, owner(), meter, first, last)
    usage = found["billing"]["usage"]
    assert (usage["total"], usage["included"], usage["overage"]) == (None, None, None)
    assert usage["errors"] == [{"code": "INVALID_INPUT", "field": f} for f in fields]


async def test_a_year_of_usage_is_allowed_and_includes_each_months_units(
    billing: SignedClient,
) -> None:
    found = await _usage(billing, owner(), "jobs", date(2025, 1, 1), date(2025, 12, 31))
    usage = found["billing"]["usage"]
    assert usage == {"total": 0, "included": 12 * 500, "overage": 0, "errors": []}


async def test_another_organizations_usage_is_invisible(
    billing: SignedClient, ledger: Ledger
) -> None:
    ada, eve = owner(), owner()
    assert ada.org_id
    now = utcnow()
    await ledger.record(UsageRecord(ada.org_id, "tickets", 5, now, f"test:{uuid4()}"))
    stranger = Caller(user_id=eve.user_id, org_id=eve.org_id, roles=eve.roles)
    variables = {
        "r": [{"__typename": "Organization", "id": str(ada.org_id)}],
        "meter": "tickets",
        "from": now.date().isoformat(),
        "to": now.date().isoformat(),
    }
    seen = (await billing.run(USAGE, variables, stranger))["_entities"][0]
    assert seen == {"entitlements": [], "billing": None}
    assert (
        await ledger.total(stranger, ada.org_id, "tickets", hour_of(now), now + timedelta(1)) == 0
    )
