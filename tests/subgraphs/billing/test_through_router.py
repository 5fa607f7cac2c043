"""The issue's usage query exactly as written, through the router over every subgraph on real
HTTP: November's flushed router counters, this month's use in the entitlements, bad input as
``INVALID_INPUT``, and nothing of another organization; a trial started without a card, the
portal where the provider has none, the pricing simulator, the spend cap, and a yearly plan's
quota paced by the month."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from router.compose.compose import compose
from subgraphs.billing.contract import hourly_requests_key, monthly_requests_key
from subgraphs.billing.ledger import Ledger, hour_of
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import Database, utcnow
from tests.conftest import SignedClient
from tests.router.platform.conftest import (
    RouterClient,
    router_client,
    router_config,
    served,
    until_limited,
)
from tests.subgraphs.billing.builders import event, until
from tests.subgraphs.billing.test_pacing import MONTHLY_REQUESTS, YEARLY
from tests.subgraphs.billing.test_simulator import DRAFT, SIMULATE
from tests.subgraphs.billing.test_spend_cap import SET_CAP, TEAM_INCLUDED
from tests.subgraphs.billing.test_trials import TRIAL, trial_state
from tests.subgraphs.billing.test_webhooks import _customer, _send
from vetrai.platform import DOMAINS, composition_sources
from vetrai.settings import PlatformSettings

# The issue's operation, with the organization's id put in for "...".
ISSUE_QUERY = """query { organization(id: "...") { entitlements { feature enabled limit used }
  billing { invoices(first: 10) { totalCount edges { node { number status totalCents hostedUrl } } }
  usage(meter: "api_requests", from: "2026-11-01", to: "2026-11-30") { total included overage } } } }"""  # noqa: E501 - as the issue writes it
# The issue's operation, on the trial plan and without a card.
START_TRIAL = """mutation($org: ID!) { startSubscription(input: {organizationId: $org,
  planKey: "business"}) { subscription { id status plan { key } currentPeriodEnd }
  errors { code field message } } }"""
PORTAL = """mutation { createBillingPortalSession(organizationId: "...", returnUrl: "https://app.example/settings") { url errors { code message } } }"""  # noqa: E501 - as the issue writes it
READ = "query($id: ID!) { organization(id: $id) { plan billing { status } } }"
START_YEARLY = """mutation($org: ID!, $plan: String!) { startSubscription(input: {
  organizationId: $org, planKey: $plan, paymentMethodId: "pm_card_visa"}) { errors { code } } }"""
BAD = """query($id: ID!) { organization(id: $id) { billing {
  usage(meter: "gigabytes", from: "2026-11-30", to: "2026-11-01") {
  total errors { code field } } } } }"""


@pytest.fixture(scope="module")
async def router(billing_settings: PlatformSettings, worker: None) -> AsyncIterator[RouterClient]:
    sdl = compose(composition_sources()).supergraph_sdl
    assert sdl is not None
    servers = [served(spec.create_app(billing_settings)) for spec in DOMAINS]
    urls = {
        spec.name: f"{await server.__aenter__()}/graphql"
        for spec, server in zip(DOMAINS, servers, strict=True)
    }
    async with router_client(billing_settings, sdl, urls, router_config()) as client:
        yield client
    for server in reversed(servers):
        await server.__aexit__(None, None, None)


@pytest.fixture
async def ledger(settings: PlatformSettings) -> AsyncIterator[Ledger]:
    url = settings.core.login_url("billing")
    assert settings.core.redis_url
    db, redis = Database(url), Redis.from_url(settings.core.redis_url)
    yield Ledger(db, redis, catalogue().meters)
    await redis.aclose()
    await db.close()


async def _owner(router: RouterClient) -> tuple[dict[str, str], str]:
    token, org = await router.owner_of_new_organization()
    return {"authorization": f"Bearer {token}", "x_organization_id": org}, org


async def _counted(ledger: Ledger, org: str, at: datetime, requests: int) -> None:
    """``requests`` counted by the router in the hour of ``at``, flushed into the ledger."""
    counter = hourly_requests_key(org, at)
    await ledger.redis.set(counter, requests)

    async def gone() -> bool:
        await ledger.flush_requests()
        return not await ledger.redis.exists(counter)

    await until(gone, "the counter flushed")


async def test_the_issues_usage_query_works_as_written(
    router: RouterClient, ledger: Ledger
) -> None:
    headers, org = await _owner(router)
    counted = {
        datetime(2026, 10, 31, 23, tzinfo=UTC): 1000,  # not November
        datetime(2026, 11, 1, 0, tzinfo=UTC): 1234,
        datetime(2026, 11, 30, 23, tzinfo=UTC): 6,
    }
    for hour, requests in counted.items():
        await _counted(ledger, org, hour, requests)
    now = utcnow()
    this_hour = hourly_requests_key(org, hour_of(now))
    await ledger.redis.incrby(this_hour, 5)
    try:
        data = await router.data(ISSUE_QUERY.replace("...", org), None, **headers)
    finally:
        await ledger.redis.delete(this_hour)
    organization: dict[str, Any] = data["organization"]
    assert organization["billing"]["usage"] == {"total": 1240, "included": 10000, "overage": 0}
    assert organization["billing"]["invoices"] == {"totalCount": 0, "edges": []}
    monthly = next(
        e for e in organization["entitlements"] if e["feature"] == "api_requests_per_month"
    )
    same_month = sum(n for h, n in counted.items() if (h.year, h.month) == (now.year, now.month))
    assert monthly == {
        "feature": "api_requests_per_month",
        "enabled": True,
        "limit": 10000,
        "used": 5 + 1 + same_month,  # the router counts this query before serving it
    }

    other_headers, other = await _owner(router)
    theirs = await router.data(ISSUE_QUERY.replace("...", other), None, **other_headers)
    assert theirs["organization"]["billing"]["usage"]["total"] == 0
    assert UUID(other) != UUID(org)


async def test_a_bad_range_and_meter_through_the_router_name_their_fields(
    router: RouterClient,
) -> None:
    headers, org = await _owner(router)
    data = await router.data(BAD, {"id": org}, **headers)
    usage = data["organization"]["billing"]["usage"]
    assert usage == {
        "total": None,
        "errors": [
            {"code": "INVALID_INPUT", "field": "meter"},
            {"code": "INVALID_INPUT", "field": "from"},
        ],
    }


async def test_a_trial_started_through_the_router_without_a_card(
    router: RouterClient, billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    token, org = await router.owner_of_new_organization()
    headers = {"authorization": f"Bearer {token}", "x_organization_id": org}
    started = (await router.data(START_TRIAL, {"org": org}, **headers))["startSubscription"]
    assert started["errors"] == []
    assert started["subscription"]["plan"] == {"key": TRIAL}
    customer = await _customer(owner_engine, UUID(org))
    trial_end = int(time.time()) + 14 * 86400
    state = trial_state(started["subscription"]["id"], customer, "trialing", trial_end)
    await _send(billing, owner_engine, event("customer.subscription.updated", state))
    found = (await router.data(READ, {"id": org}, **headers))["organization"]
    assert found == {"plan": TRIAL, "billing": {"status": "TRIALING"}}


async def test_the_issues_portal_operation_answers_a_code_where_there_is_no_portal(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "pro")
    headers = {"authorization": f"Bearer {token}", "x_organization_id": org}
    found = (await router.data(PORTAL.replace("...", org), None, **headers))[
        "createBillingPortalSession"
    ]
    assert found["url"] is None
    assert [e["code"] for e in found["errors"]] == ["PORTAL_UNAVAILABLE"]


async def test_an_owner_simulates_a_draft_plan_through_the_router(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()
    headers = {"authorization": f"Bearer {token}", "x_organization_id": org}
    variables = {"org": org, "draft": DRAFT, "from": "2026-11-01", "to": "2026-11-30"}
    found = (await router.data(SIMULATE, variables, **headers))["simulatePlan"]
    assert found["errors"] == []
    assert found["current"]["totalCents"] == 0
    assert found["draft"]["totalCents"] == 1000  # one month's price, no use yet
    assert found["diff"][0] == {
        "key": "plan",
        "currentCents": 0,
        "draftCents": 1000,
        "deltaCents": 1000,
    }


async def test_past_the_spend_cap_the_router_refuses_until_the_cap_rises(
    router: RouterClient, ledger: Ledger
) -> None:
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "team")  # soft quota: past it, requests cost overage
    headers = {"authorization": f"Bearer {token}", "x_organization_id": org}
    variables = {"org": org, "cents": 500}  # $5: 500 000 requests beyond the included ones
    assert (await router.data(SET_CAP, variables, **headers))["setSpendCap"]["errors"] == []
    month = monthly_requests_key(org, utcnow())
    await ledger.redis.set(month, TEAM_INCLUDED + 500_000 - 1, keepttl=True)
    read = {"id": org}

    async def refused() -> dict[str, Any] | None:
        response = await router.post(READ, read, **headers)
        if response.status_code != 429:
            await ledger.redis.set(month, TEAM_INCLUDED + 500_000, keepttl=True)
            return None
        error: dict[str, Any] = response.json()["errors"][0]
        return error

    # The router drops its cached identity on the announcement; until then, it is the plan's.
    error = await until(refused, "the cap enforced")
    assert error["extensions"] == {"code": "SPEND_CAP_REACHED", "meter": "api_requests"}
    # Billing's own operations pass the cap, uncounted, or nobody could raise it: the owner
    # raises it through the router (one more dollar, 100 000 more requests).
    used = int(await ledger.redis.get(month) or 0)
    raised = await router.data(SET_CAP, {"org": org, "cents": 600}, **headers)
    assert raised["setSpendCap"]["errors"] == []
    assert int(await ledger.redis.get(month) or 0) == used

    async def served_again() -> bool:
        response = await router.post(READ, read, **headers)
        return response.status_code == 200

    assert await until(served_again, "the raised cap applied")


async def test_the_router_holds_a_yearly_organization_to_its_months_share(
    router: RouterClient, ledger: Ledger
) -> None:
    token, org = await router.owner_of_new_organization()
    headers = {"authorization": f"Bearer {token}", "x_organization_id": org}
    started = await router.data(START_YEARLY, {"org": org, "plan": YEARLY}, **headers)
    assert started["startSubscription"]["errors"] == []
    await until_limited(router, org, token, "pro")  # the yearly plan's requests a minute are pro's
    month = monthly_requests_key(org, utcnow())
    await ledger.redis.set(month, MONTHLY_REQUESTS - 1, keepttl=True)
    last = await router.post(READ, {"id": org}, **headers)
    assert last.status_code == 200  # the month's share's last request; the year has 11 more
    refused = await router.post(READ, {"id": org}, **headers)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "QUOTA_EXCEEDED",
        "meter": "api_requests",
    }
