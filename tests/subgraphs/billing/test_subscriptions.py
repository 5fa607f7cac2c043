"""Buying, previewing, changing and cancelling a plan through the billing subgraph, against the
Stripe-compatible server, with the issue's operations exactly as written."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.contract import PLAN_CHANGED_CHANNEL
from tests.conftest import SignedClient, subgraph_client
from tests.subgraphs.billing.builders import owner
from vetrai.settings import PlatformSettings

PLANS = "query { plans { key name interval priceCents currency features { key enabled limit } } }"
START = """mutation($org: ID!, $plan: String!, $pm: String) {
  startSubscription(input: {organizationId: $org, planKey: $plan, paymentMethodId: $pm}) {
  subscription { id status plan { key } currentPeriodEnd } errors { code field message } } }"""
PREVIEW = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  plan billing { status previewPlanChange(planKey: "team") {
  amountDueNowCents lines { description amountCents proration } } } } } }"""
CHANGE = """mutation($org: ID!, $plan: String!) {
  changePlan(input: {organizationId: $org, planKey: $plan}) {
  subscription { plan { key } } errors { code message } } }"""
CANCEL = """mutation($org: ID!, $end: Boolean!) {
  cancelSubscription(input: {organizationId: $org, atPeriodEnd: $end}) {
  subscription { cancelAtPeriodEnd status } errors { code message } } }"""
ENTITLEMENTS = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  plan entitlements { feature enabled limit used } } } }"""
PORTAL = """mutation($org: ID!) { createBillingPortalSession(organizationId: $org,
  returnUrl: "https://app.example/settings") { url errors { code message } } }"""


def org_ref(caller: Caller) -> dict[str, Any]:
    return {"r": [{"__typename": "Organization", "id": str(caller.org_id)}]}


async def start(
    billing: SignedClient, caller: Caller, plan: str = "pro", pm: str | None = "pm_card_visa"
) -> dict[str, Any]:
    variables = {"org": str(caller.org_id), "plan": plan, "pm": pm}
    payload: dict[str, Any] = (await billing.run(START, variables, caller))["startSubscription"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def test_plans_lists_the_catalogue_with_features(billing: SignedClient) -> None:
    plans = (await billing.run(PLANS))["plans"]
    assert [p["key"] for p in plans] == ["free", "pro", "pro_yearly", "team", "business"]
    pro = plans[1]
    assert (pro["priceCents"], pro["currency"], pro["interval"]) == (2900, "usd", "month")
    assert {"key": "white_label", "enabled": False, "limit": None} in pro["features"]
    assert {"key": "api_keys", "enabled": True, "limit": 25} in pro["features"]


async def test_owner_subscribes_and_the_organization_is_on_the_plan_at_once(
    billing: SignedClient, settings: PlatformSettings
) -> None:
    caller = owner()
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    announcements = redis.pubsub()
    await announcements.subscribe(PLAN_CHANGED_CHANNEL)
    started = await start(billing, caller)
    assert started["errors"] == []
    subscription = started["subscription"]
    assert subscription["status"] == "ACTIVE"
    assert subscription["plan"] == {"key": "pro"}
    assert subscription["currentPeriodEnd"] is not None
    found = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert found["plan"] == "pro"
    assert {"feature": "api_keys", "enabled": True, "limit": 25, "used": None} in found[
        "entitlements"
    ]
    heard: dict[str, str] = {}
    async with asyncio.timeout(5):  # else no plan change was announced
        while heard.get("org_id") != str(caller.org_id):  # another test's may come first
            message = await announcements.get_message(ignore_subscribe_messages=True, timeout=1)
            heard = orjson.loads(message["data"]) if message else {}
    assert heard == {"org_id": str(caller.org_id), "plan": "pro"}
    await announcements.aclose()
    await redis.aclose()


async def test_preview_change_and_cancel_at_period_end_as_the_issue_writes_them(
    billing: SignedClient,
) -> None:
    caller = owner()
    assert (await start(billing, caller))["errors"] == []
    previewed = (await billing.run(PREVIEW, org_ref(caller), caller))["_entities"][0]
    assert previewed["plan"] == "pro"
    assert previewed["billing"]["status"] == "ACTIVE"
    preview = previewed["billing"]["previewPlanChange"]
    lines = preview["lines"]
    assert any(line["proration"] and line["amountCents"] < 0 for line in lines)
    assert preview["amountDueNowCents"] == sum(line["amountCents"] for line in lines)
    assert preview["amountDueNowCents"] > 0

    variables = {"org": str(caller.org_id), "plan": "team"}
    changed = (await billing.run(CHANGE, variables, caller))["changePlan"]
    assert changed == {"subscription": {"plan": {"key": "team"}}, "errors": []}
    after = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert after["plan"] == "team"
    assert {"feature": "white_label", "enabled": True, "limit": None, "used": None} in after[
        "entitlements"
    ]

    ending = {"org": str(caller.org_id), "end": True}
    cancelled = (await billing.run(CANCEL, ending, caller))["cancelSubscription"]
    assert cancelled == {
        "subscription": {"cancelAtPeriodEnd": True, "status": "ACTIVE"},
        "errors": [],
    }
    kept = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert kept["plan"] == "team"  # until the period ends


async def test_cancelling_now_returns_the_organization_to_the_free_plan(
    billing: SignedClient,
) -> None:
    caller = owner()
    assert (await start(billing, caller))["errors"] == []
    now = {"org": str(caller.org_id), "end": False}
    cancelled = (await billing.run(CANCEL, now, caller))["cancelSubscription"]
    assert cancelled["subscription"]["status"] == "CANCELED"
    found = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert found["plan"] == "free"
    again = (await billing.run(CANCEL, now, caller))["cancelSubscription"]
    assert codes(again) == ["NO_SUBSCRIPTION"]


async def test_a_declined_card_is_payment_failed_and_leaves_the_free_plan(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    for card in ("pm_card_chargeDeclined", "pm_card_chargeCustomerFail"):
        caller = owner()
        failed = await start(billing, caller, pm=card)
        assert failed["subscription"] is None
        assert [(e["code"], e["field"]) for e in failed["errors"]] == [
            ("PAYMENT_FAILED", "paymentMethodId")
        ]
        found = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
        assert found["plan"] == "free"
        async with owner_engine.connect() as connection:
            stored = await connection.scalar(
                text("select count(*) from billing.subscriptions where org_id = :org"),
                {"org": caller.org_id},
            )
        assert stored == 0
        # the card's failure does not block a later purchase with a good card
        assert (await start(billing, caller))["errors"] == []


async def test_expected_failures_are_values_with_their_codes(billing: SignedClient) -> None:
    caller = owner()
    org = str(caller.org_id)
    assert codes(await start(billing, caller, plan="gold")) == ["PLAN_NOT_FOUND"]
    assert codes(await start(billing, caller, plan="free")) == ["INVALID_INPUT"]
    assert codes(await start(billing, caller, pm=None)) == ["NO_PAYMENT_METHOD"]
    assert codes(await start(billing, caller, pm="pm_unknown")) == ["NO_PAYMENT_METHOD"]
    change = (await billing.run(CHANGE, {"org": org, "plan": "team"}, caller))["changePlan"]
    assert codes(change) == ["NO_SUBSCRIPTION"]
    assert (await start(billing, caller))["errors"] == []
    assert codes(await start(billing, caller, plan="team")) == ["ALREADY_SUBSCRIBED"]
    same = (await billing.run(CHANGE, {"org": org, "plan": "pro"}, caller))["changePlan"]
    assert codes(same) == ["SAME_PLAN"]
    unknown = (await billing.run(CHANGE, {"org": org, "plan": "x" * 500}, caller))["changePlan"]
    assert codes(unknown) == ["PLAN_NOT_FOUND"]
    bad_id = await billing.run(START, {"org": "nope", "plan": "pro", "pm": "pm_card_visa"}, caller)
    assert codes(bad_id["startSubscription"]) == ["INVALID_INPUT"]


async def test_only_owners_change_billing_and_others_read_it(billing: SignedClient) -> None:
    buyer = owner()
    assert (await start(billing, buyer))["errors"] == []
    org = buyer.org_id
    assert org is not None
    for role in ("admin", "member"):
        reader = owner(org, role)
        assert codes(await start(billing, reader, plan="team")) == ["FORBIDDEN"]
        change = await billing.run(CHANGE, {"org": str(org), "plan": "team"}, reader)
        assert codes(change["changePlan"]) == ["FORBIDDEN"]
        found = (await billing.run(ENTITLEMENTS, org_ref(reader), reader))["_entities"][0]
        assert found["plan"] == "pro"
    stranger = owner()
    foreign = await billing.run(CHANGE, {"org": str(org), "plan": "team"}, stranger)
    assert codes(foreign["changePlan"]) == ["NOT_FOUND"]
    assert codes(await start(billing, owner(role="owner"), plan="pro", pm=None)) == [
        "NO_PAYMENT_METHOD"
    ]


async def test_the_test_server_has_no_billing_portal_and_says_so(billing: SignedClient) -> None:
    caller = owner()
    assert (await start(billing, caller))["errors"] == []
    portal = await billing.run(PORTAL, {"org": str(caller.org_id)}, caller)
    assert portal["createBillingPortalSession"]["url"] is None
    assert codes(portal["createBillingPortalSession"]) == ["PORTAL_UNAVAILABLE"]
    assert "no billing portal" in portal["createBillingPortalSession"]["errors"][0]["message"]


async def test_an_unreachable_provider_is_a_value_not_a_server_error(
    billing_settings: PlatformSettings,
) -> None:
    down = billing_settings.replace(stripe_api_base="http://127.0.0.1:9")
    async for client in subgraph_client("billing", down):
        caller = owner()
        started = await start(client, caller)
        assert codes(started) == ["BILLING_PROVIDER_UNAVAILABLE"]
        assert started["subscription"] is None


async def test_two_purchases_at_once_make_one_subscription(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    first, second = await asyncio.gather(start(billing, caller), start(billing, caller))
    assert sorted([codes(first), codes(second)]) == [[], ["ALREADY_SUBSCRIBED"]]
    async with owner_engine.connect() as connection:
        rows = await connection.scalar(
            text("select count(*) from billing.subscriptions where org_id = :org"),
            {"org": caller.org_id},
        )
        customers = await connection.scalar(
            text("select count(*) from billing.accounts where org_id = :org"),
            {"org": caller.org_id},
        )
    assert (rows, customers) == (1, 1)
