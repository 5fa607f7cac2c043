"""Trials: a plan with trial days starts ``trialing`` (told by Stripe's
``customer.subscription.*`` events: the test server keeps trials ``incomplete``), grants the
plan's entitlements meanwhile, and a trial started without a card ends on the free plan, with
no grace days, while one with a card keeps them."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.gateway import stripe_plan_id
from subgraphs.billing.plans import Plan, catalogue
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import event, owner
from tests.subgraphs.billing.test_subscriptions import ENTITLEMENTS, codes, org_ref, start
from tests.subgraphs.billing.test_webhooks import _billing, _customer, _send

TRIAL = "business"


def _trial_plan() -> Plan:
    plan = catalogue().get(TRIAL)
    assert plan is not None
    return plan


def trial_state(
    subscription_id: str, customer: str, status: str, trial_end: int | None
) -> dict[str, Any]:
    """A subscription's ``data.object`` as Stripe sends it, on the trial plan."""
    period_end = trial_end or int(time.time()) + 30 * 86400
    item = {"id": f"si_{subscription_id}", "plan": {"id": stripe_plan_id(_trial_plan())}}
    return {
        "id": subscription_id,
        "customer": customer,
        "status": status,
        "trial_start": int(time.time()),
        "trial_end": trial_end,
        "items": {"object": "list", "data": [{**item, "current_period_end": period_end}]},
    }


async def _trialing(
    billing: SignedClient, owner_engine: AsyncEngine, caller: Caller, card: str | None
) -> tuple[str, str]:
    """``caller``'s organization in the trial plan's trial days: its subscription and customer."""
    started = await start(billing, caller, plan=TRIAL, pm=card)
    assert started["errors"] == []
    subscription = started["subscription"]
    assert subscription["plan"] == {"key": TRIAL}
    assert subscription["status"] in ("TRIALING", "NONE")  # Stripe / the test server
    customer = await _customer(owner_engine, caller.org_id)
    trial_end = int(time.time()) + 14 * 86400
    state = trial_state(subscription["id"], customer, "trialing", trial_end)
    await _send(billing, owner_engine, event("customer.subscription.updated", state))
    return subscription["id"], customer


async def _plan(billing: SignedClient, caller: Caller) -> tuple[str, str]:
    found = await _billing(billing, caller)
    return found["plan"], found["billing"]["status"]


async def test_a_trial_grants_the_plans_entitlements_before_any_payment(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    await _trialing(billing, owner_engine, caller, "pm_card_visa")
    assert await _plan(billing, caller) == (TRIAL, "TRIALING")
    found = (await billing.run(ENTITLEMENTS, org_ref(caller), caller))["_entities"][0]
    assert {"feature": "white_label", "enabled": True, "limit": None, "used": None} in found[
        "entitlements"
    ]
    assert {"feature": "api_keys", "enabled": True, "limit": 500, "used": None} in found[
        "entitlements"
    ]


async def test_a_trial_without_a_card_ends_on_the_free_plan_at_once(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    subscription, customer = await _trialing(billing, owner_engine, caller, None)
    assert await _plan(billing, caller) == (TRIAL, "TRIALING")
    ended = event(
        "customer.subscription.updated",
        trial_state(subscription, customer, "past_due", None),
        int(time.time()) + 1,
    )
    await _send(billing, owner_engine, ended)  # the first invoice could not be charged
    assert await _plan(billing, caller) == ("free", "PAST_DUE")


async def test_a_trial_with_a_card_keeps_its_grace_days_when_the_first_charge_fails(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    subscription, customer = await _trialing(billing, owner_engine, caller, "pm_card_visa")
    failed = event(
        "customer.subscription.updated",
        trial_state(subscription, customer, "past_due", None),
        int(time.time()) + 1,
    )
    await _send(billing, owner_engine, failed)
    assert _trial_plan().grace_days > 0
    assert await _plan(billing, caller) == (TRIAL, "PAST_DUE")


async def test_a_trial_cancelled_at_its_end_without_a_card_is_the_free_plan(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    subscription, customer = await _trialing(billing, owner_engine, caller, None)
    # Stripe's `trial_settings.end_behavior.missing_payment_method: cancel`
    gone = event(
        "customer.subscription.deleted",
        trial_state(subscription, customer, "canceled", None),
        int(time.time()) + 1,
    )
    await _send(billing, owner_engine, gone)
    assert await _plan(billing, caller) == ("free", "CANCELED")


async def test_a_plan_without_trial_days_still_needs_a_card(billing: SignedClient) -> None:
    assert catalogue().get("pro").trial_days == 0  # type: ignore[union-attr]
    assert codes(await start(billing, owner(), plan="pro", pm=None)) == ["NO_PAYMENT_METHOD"]
