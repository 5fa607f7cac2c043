"""Billing Meters and overage Prices: sync-plans makes one Meter per meter event name and one
metered Price per plan's overage, found again on the next run; a subscription carries its
plan's overage Price, and a plan change swaps it; sync-plans gives a subscription made before its
plan's overage Price existed that Price (once), and takes away one left from another plan; a
plan changed in Stripe's portal has its overage swapped when billing applies the event, and a
subscription made in Stripe's dashboard gets its overage from its first event applied. A
server without meters (the test server) is noticed once and skipped.

The test server has neither meters nor Prices, nor subscriptions of several items, so those
calls go to a gateway that keeps meters and Prices itself and records the subscription items it
adds, and is otherwise the real one."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import pytest
import stripe
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.billing.command import sync_and_reconcile, sync_plans
from subgraphs.billing.gateway import (
    ProviderRefused,
    StripeGateway,
    gateway_for,
    overage_lookup_key,
)
from subgraphs.billing.plans import catalogue
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database
from tests.conftest import SESSION_WORKER
from tests.subgraphs.billing.builders import announced_plan, event, owner, store_unqueued
from vetrai.embedded import Lease
from vetrai.embedded_stripe import SECRET_KEY
from vetrai.settings import PlatformSettings

_ids = itertools.count(1)


def _listed(objects: list[dict[str, Any]]) -> stripe.ListObject[Any]:
    answer = {"object": "list", "data": objects, "has_more": False}
    listed: stripe.ListObject[Any] = stripe.ListObject.construct_from(answer, SECRET_KEY)
    return listed


def _object(values: dict[str, Any]) -> stripe.StripeObject:
    return stripe.StripeObject.construct_from(values, SECRET_KEY)


def _price_ids(subscription: dict[str, Any]) -> set[str | None]:
    items = subscription["items"]["data"]
    return {(i.get("plan") or i.get("price") or {}).get("id") for i in items}


class MeteringGateway(StripeGateway):
    """The real gateway, except that Meters and Prices live here (``writes`` records each
    write to them) and the metered items of subscriptions are kept here beside the server's."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__(SECRET_KEY, api_base)
        self.meters: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.writes: list[str] = []
        self.metered_items: dict[str, list[dict[str, Any]]] = {}

    async def _metered(self, method: Any, **kwargs: Any) -> Any:
        self.metering = True
        return await self._call(method, **kwargs)

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        name = f"{type(method.__self__).__name__}.{method.__name__}"
        params: dict[str, Any] = kwargs.get("params") or {}
        if name == "MeterService.list_async":
            return _listed(list(self.meters.values()))
        if name == "MeterService.create_async":
            return self._keep(self.meters, "mtr", {**params, "status": "active"}, name)
        if name == "MeterService.reactivate_async":
            self.writes.append(name)
            self.meters[args[0]]["status"] = "active"
            return _object(self.meters[args[0]])
        if name == "PriceService.list_async":
            keys = params["lookup_keys"]
            return _listed([p for p in self.prices.values() if p["lookup_key"] in keys])
        if name == "PriceService.create_async":
            return self._keep(self.prices, "price", params, name)
        if name in ("SubscriptionService.create_async", "SubscriptionService.update_async"):
            return await self._subscription(method, args, kwargs)
        if name == "SubscriptionService.list_async":
            return await self._subscriptions_of(method, params)
        answer = await super()._call(method, *args, **kwargs)
        if name == "SubscriptionService.retrieve_async":
            answer = _object(self._with_metered(answer.to_dict()))
        return answer

    def _keep(
        self, store: dict[str, dict[str, Any]], prefix: str, params: dict[str, Any], name: str
    ) -> stripe.StripeObject:
        self.writes.append(name)
        kept = {**params, "id": f"{prefix}_{next(_ids)}"}
        store[kept["id"]] = kept
        return _object(kept)

    async def _subscriptions_of(self, method: Any, params: dict[str, Any]) -> Any:
        """The server's subscriptions carrying the Plan ``price``, every page in one (the
        server cannot filter by price)."""
        pages = [await super()._call(method, params={"limit": 100})]
        while pages[-1].has_more:
            after = {"limit": 100, "starting_after": pages[-1].data[-1].id}
            pages.append(await super()._call(method, params=after))
        listed = [self._with_metered(s.to_dict()) for page in pages for s in page.data]
        return _listed([s for s in listed if params["price"] in _price_ids(s)])

    async def _subscription(self, method: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        items = kwargs["params"]["items"]
        ours = [i for i in items if "price" in i or i.get("deleted")]
        params = {**kwargs["params"], "items": [i for i in items if i not in ours]}
        if params["items"]:
            call = super()._call(method, *args, **{**kwargs, "params": params})
        else:  # only metered items change: the server's subscription stays as it is
            call = super()._call(self.client.v1.subscriptions.retrieve_async, args[0])
        answer = (await call).to_dict()
        kept = [
            i
            for i in self.metered_items.get(answer["id"], [])
            if {"id": i["id"], "deleted": True} not in ours
        ]
        for item in ours:
            if "price" in item:
                price = self.prices[item["price"]]
                kept.append({"id": f"si_{next(_ids)}", "price": price})
        self.metered_items[answer["id"]] = kept
        return _object(self._with_metered(answer))

    def _with_metered(self, subscription: dict[str, Any]) -> dict[str, Any]:
        items = subscription["items"]["data"] + self.metered_items.get(subscription["id"], [])
        return {**subscription, "items": {**subscription["items"], "data": items}}

    def carried(self, subscription_id: str) -> list[str]:
        """The lookup keys of the metered Prices the subscription carries."""
        return sorted(i["price"]["lookup_key"] for i in self.metered_items.get(subscription_id, []))


@pytest.fixture
def gateway(billing_settings: PlatformSettings) -> MeteringGateway:
    return MeteringGateway(billing_settings.billing.stripe_api_base)


def _plan(key: str) -> Any:
    plan = catalogue().get(key)
    assert plan is not None
    return plan


async def test_syncing_twice_makes_each_meter_and_overage_price_once(
    gateway: MeteringGateway,
) -> None:
    first = await sync_plans(gateway, catalogue())
    again = await sync_plans(gateway, catalogue())
    assert first == again
    assert sorted(m["event_name"] for m in gateway.meters.values()) == sorted(catalogue().meters)
    requests = next(m for m in gateway.meters.values() if m["event_name"] == "api_requests")
    assert ("meter api_requests", requests["id"]) in first
    assert requests["customer_mapping"] == {
        "type": "by_id",
        "event_payload_key": "stripe_customer_id",
    }
    assert requests["value_settings"] == {"event_payload_key": "value"}
    assert requests["default_aggregation"] == {"formula": "sum"}
    prices = {p["lookup_key"]: p for p in gateway.prices.values()}
    team, meter = _plan("team"), _plan("team").meters[0]
    assert sorted(prices) == sorted(
        overage_lookup_key(p, m)
        for p in catalogue().plans
        for m in p.meters
        if m.overage_cents_per_unit > 0
    )
    price = prices[overage_lookup_key(team, meter)]
    assert price["recurring"] == {
        "interval": "month",
        "usage_type": "metered",
        "meter": requests["id"],
    }
    assert price["tiers"] == [
        {"up_to": 10000000, "unit_amount": 0},
        {"up_to": "inf", "unit_amount_decimal": "0.001"},
    ]
    creates = [w for w in gateway.writes if w.endswith("create_async")]
    assert len(creates) == len(gateway.meters) + len(gateway.prices)


async def test_a_deactivated_meter_is_reactivated_not_made_again(
    gateway: MeteringGateway,
) -> None:
    await sync_plans(gateway, catalogue())
    tickets = next(m for m in gateway.meters.values() if m["event_name"] == "tickets")
    tickets["status"] = "inactive"
    count = len(gateway.meters)
    await sync_plans(gateway, catalogue())
    assert (len(gateway.meters), tickets["status"]) == (count, "active")
    assert gateway.writes.count("MeterService.reactivate_async") == 1


async def _customer(gateway: StripeGateway) -> str:
    key = f"test:{uuid4()}"
    customer = await gateway.create_customer(str(uuid4()), key)
    await gateway.attach_payment_method(customer, "pm_card_visa", key)
    return customer


async def test_a_subscription_carries_its_plans_overage_price_and_a_change_swaps_it(
    gateway: MeteringGateway,
) -> None:
    await sync_plans(gateway, catalogue())
    customer = await _customer(gateway)
    team, pro, business = _plan("team"), _plan("pro"), _plan("business")
    state = await gateway.create_subscription(customer, team, {}, f"test:{uuid4()}")
    assert gateway.carried(state.id) == [overage_lookup_key(team, team.meters[0])]
    assert state.plan_id == "vetrai-team-month-9900usd"  # the plan's item, not the overage's

    down = await gateway.change_plan(state.id, state.item_id, pro, f"test:{uuid4()}")
    assert (down.plan_id, gateway.carried(state.id)) == ("vetrai-pro-month-2900usd", [])
    up = await gateway.change_plan(state.id, down.item_id, business, f"test:{uuid4()}")
    assert up.plan_id == "vetrai-business-month-29900usd"
    assert gateway.carried(state.id) == [overage_lookup_key(business, business.meters[0])]


async def test_sync_plans_gives_older_subscriptions_their_overage_price_once(
    gateway: MeteringGateway, billing_settings: PlatformSettings
) -> None:
    before = gateway_for(billing_settings.billing)  # the server alone: no Prices yet
    assert before is not None
    team = _plan("team")
    state = await before.create_subscription(await _customer(before), team, {}, f"t:{uuid4()}")
    assert state.id not in gateway.metered_items

    changed = await sync_and_reconcile(gateway, catalogue())
    assert (state.id, "overage prices of team") in changed
    assert gateway.carried(state.id) == [overage_lookup_key(team, team.meters[0])]
    again = await sync_and_reconcile(gateway, catalogue())
    assert not [c for c in again if c[0].startswith("sub_")]  # nothing left to give
    assert gateway.carried(state.id) == [overage_lookup_key(team, team.meters[0])]

    # The plan changed where its overage was not swapped (Stripe's dashboard, say).
    await before.change_plan(state.id, state.item_id, _plan("pro"), f"t:{uuid4()}")
    assert (state.id, "overage prices of pro") in await sync_and_reconcile(gateway, catalogue())
    assert gateway.carried(state.id) == []


@pytest.fixture
async def service(
    billing_settings: PlatformSettings, gateway: MeteringGateway, worker: None
) -> AsyncIterator[BillingService]:
    """A billing service on the metering gateway (the worker's own has the server's)."""
    await sync_plans(gateway, catalogue())
    assert billing_settings.core.redis_url
    db = Database(billing_settings.core.login_url("billing"))
    redis = Redis.from_url(billing_settings.core.redis_url)
    yield BillingService(db, redis, billing_settings, gateway)
    await redis.aclose()
    await db.close()


@pytest.fixture
def worker_on_the_gateway(
    gateway: MeteringGateway, worker: None, request: pytest.FixtureRequest
) -> Iterator[None]:
    """The session's worker on the metering gateway too while the test runs, as every process
    of a deployment is on one provider: the test server's own event of a change (sent a second
    later, when its webhook is registered) may be applied there before the test's."""
    running, _ = request.config.stash[SESSION_WORKER]
    billing: BillingService = running.ctx["billing"]
    kept, billing._gateway = billing._gateway, gateway
    yield
    billing._gateway = kept


async def _apply_as_received(
    service: BillingService, owner_engine: AsyncEngine, obj: dict[str, Any], created: int
) -> dict[str, Any]:
    """A ``customer.subscription.updated`` of ``obj`` applied by ``service``."""
    payload = event("customer.subscription.updated", obj, created)
    await store_unqueued(owner_engine, payload)
    assert await service.apply_event(payload["id"])
    return payload


async def _in_stripe(gateway: StripeGateway, subscription_id: str) -> dict[str, Any]:
    found = await gateway.client.v1.subscriptions.retrieve_async(subscription_id)
    return found.to_dict()


async def test_a_plan_changed_in_stripes_portal_gets_its_overage_when_the_event_is_applied(
    service: BillingService,
    gateway: MeteringGateway,
    billing_settings: PlatformSettings,
    owner_engine: AsyncEngine,
) -> None:
    caller = owner()
    assert caller.org_id is not None
    started = await service.start_subscription(caller, caller.org_id, "team", "pm_card_visa")
    team, pro, business = _plan("team"), _plan("pro"), _plan("business")
    assert gateway.carried(started.id) == [overage_lookup_key(team, team.meters[0])]
    portal = gateway_for(billing_settings.billing)  # changes the plan only, as the portal does
    assert portal is not None
    now = int(time.time())

    await portal.change_plan(started.id, started.item_id, pro, f"portal:{uuid4()}")
    await _apply_as_received(service, owner_engine, await _in_stripe(portal, started.id), now + 1)
    assert gateway.carried(started.id) == []

    stale = await _in_stripe(portal, started.id)  # pro, as an older event would show it
    await portal.change_plan(started.id, started.item_id, business, f"portal:{uuid4()}")
    moved = await _apply_as_received(
        service, owner_engine, await _in_stripe(portal, started.id), now + 3
    )
    assert gateway.carried(started.id) == [overage_lookup_key(business, business.meters[0])]
    assert not await service.apply_event(moved["id"])  # applied once
    await _apply_as_received(service, owner_engine, stale, now + 2)  # older: changes nothing
    assert gateway.carried(started.id) == [overage_lookup_key(business, business.meters[0])]
    [current] = await service.subscriptions(caller, [started.id])
    assert current is not None
    assert current.plan_key == "business"


@pytest.mark.parametrize(
    "first", ["customer.subscription.created", "customer.subscription.updated"]
)
async def test_a_subscription_made_in_stripes_dashboard_gets_its_overage_from_its_first_event(
    service: BillingService,
    gateway: MeteringGateway,
    billing_settings: PlatformSettings,
    owner_engine: AsyncEngine,
    worker_on_the_gateway: None,
    first: str,
) -> None:
    """A customer billing knows (its subscription through billing was cancelled) subscribed
    again in the dashboard, which adds the Plan alone: whichever of its events comes first,
    billing ends with the subscription startSubscription would have made."""
    caller = owner()
    assert caller.org_id is not None
    await service.start_subscription(caller, caller.org_id, "pro", "pm_card_visa")
    await service.cancel_subscription(caller, caller.org_id, at_period_end=False)
    [view] = await service.accounts(caller, [caller.org_id])
    assert view is not None
    assert view.account is not None
    dashboard = gateway_for(billing_settings.billing)
    assert dashboard is not None
    team = _plan("team")
    made = await dashboard.create_subscription(
        view.account.stripe_customer_id, team, {}, f"dashboard:{uuid4()}"
    )
    assert made.id not in gateway.metered_items

    payload = event(first, await _in_stripe(dashboard, made.id), int(time.time()) + 1)
    await store_unqueued(owner_engine, payload)
    assert await service.apply_event(payload["id"])
    assert gateway.carried(made.id) == [overage_lookup_key(team, team.meters[0])]
    [current] = await service.subscriptions(caller, [made.id])
    assert current is not None
    assert (current.plan_key, current.status, current.item_id) == ("team", "active", made.item_id)
    [view] = await service.accounts(caller, [caller.org_id])
    assert view is not None
    assert view.subscription is not None
    assert (view.subscription.id, view.plan.key) == (made.id, "team")
    assert await announced_plan(owner_engine, caller.org_id) == "team"


async def test_a_plan_whose_overage_price_was_never_synced_is_refused(
    gateway: MeteringGateway,
) -> None:
    customer = await _customer(gateway)
    with pytest.raises(ProviderRefused, match="not synced"):
        await gateway.create_subscription(customer, _plan("team"), {}, f"test:{uuid4()}")


async def test_a_server_without_meters_is_noticed_once_and_skipped(
    billing_settings: PlatformSettings,
    stripe_server: Lease | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real gateway against the configured server: the test server answers 404 for meters
    and Prices (Stripe itself has them, and then the sync makes them)."""
    gateway = gateway_for(billing_settings.billing)
    assert gateway is not None
    caplog.set_level(logging.WARNING, "vetrai.billing.gateway")
    synced = await sync_plans(gateway, catalogue())
    customer = await _customer(gateway)
    state = await gateway.create_subscription(customer, _plan("team"), {}, f"test:{uuid4()}")
    changed = await gateway.change_plan(
        state.id, state.item_id, _plan("business"), f"test:{uuid4()}"
    )
    assert changed.plan_id == "vetrai-business-month-29900usd"
    meters = [name for name, _ in synced if name.startswith("meter ")]
    if stripe_server is None:
        assert (gateway.metering, len(meters)) == (True, len(catalogue().meters))
        return
    assert (gateway.metering, meters) == (False, [])
    assert [r.message for r in caplog.records] == [
        "the provider has no billing meters or prices: usage is not billed"
    ]
