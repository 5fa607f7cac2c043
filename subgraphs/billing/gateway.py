"""The one place billing talks to Stripe (or the embedded test server that speaks its API):
the official SDK, async, every write with an Idempotency-Key, failures turned into our
exceptions and Stripe objects into plain values."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import stripe

from subgraphs.billing.plans import Meter, Plan
from subgraphs.billing.settings import BillingSettings

# Stripe's documented test payment methods that the test server lacks, and its equivalent
# (the same card): with Stripe itself these are never used.
TEST_METHOD_STAND_INS = {"pm_card_chargeDeclined": "pm_card_visa_chargeDeclined"}
PLAN_METADATA = "vetrai_plan"
METER_METADATA = "vetrai_meter"
log = logging.getLogger("vetrai.billing.gateway")
_STATUSES = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "past_due",
    "canceled": "canceled",
    "incomplete_expired": "canceled",
    "paused": "canceled",
}


class ProviderUnavailable(Exception):
    """Stripe could not be reached, or answered with an error of its own."""


class CardDeclined(Exception):
    """The card was refused (when attached or when charged)."""


class ProviderRefused(Exception):
    """Stripe refused the request as invalid (an unknown payment method, a missing feature)."""


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    brand: str | None
    last4: str | None


@dataclass(frozen=True)
class SubscriptionState:
    """A Stripe subscription as billing keeps it; ``status`` is one of ours (``none`` while
    Stripe still waits for a first payment)."""

    id: str
    customer: str
    status: str
    plan_id: str | None
    item_id: str | None
    current_period_start: int | None
    current_period_end: int | None
    cancel_at_period_end: bool
    created: int
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class PreviewLine:
    description: str
    amount_cents: int
    proration: bool


@dataclass(frozen=True)
class Preview:
    amount_due_cents: int
    lines: list[PreviewLine]


def stripe_plan_id(plan: Plan) -> str:
    """The Stripe Plan of a plan's current terms; new terms are a new Plan (amounts are fixed)."""
    return f"vetrai-{plan.key}-{plan.interval}-{plan.price_cents}{plan.currency}"


def overage_lookup_key(plan: Plan, meter: Meter) -> str:
    """The lookup key of the metered Price billing ``meter`` beyond what ``plan`` includes; new
    terms are a new Price (amounts are fixed), as for the plan's own Plan."""
    terms = f"{meter.included}+{meter.overage_cents_per_unit.normalize():f}{plan.currency}"
    return f"vetrai-{plan.key}-{plan.interval}-{meter.key}-{terms}"


def _overage_meters(plan: Plan) -> list[Meter]:
    return [m for m in plan.meters if m.overage_cents_per_unit > 0]


def _item_price(item: Mapping[str, Any]) -> Mapping[str, Any]:
    found: Mapping[str, Any] = item.get("plan") or item.get("price") or {}
    return found


def _is_metered(item: Mapping[str, Any]) -> bool:
    price = _item_price(item)
    return (price.get("recurring") or price).get("usage_type") == "metered"


def _overage_changes(subscription: Mapping[str, Any], overage: list[str]) -> list[dict[str, Any]]:
    """The item changes leaving ``subscription`` with exactly the metered Prices ``overage``:
    its other metered items deleted, the missing ones added."""
    items = (subscription.get("items") or {}).get("data") or []
    metered = [i for i in items if _is_metered(i)]
    carried = {_item_price(i).get("id") for i in metered}
    stale = [
        {"id": i["id"], "deleted": True} for i in metered if _item_price(i).get("id") not in overage
    ]
    return stale + [{"price": price} for price in overage if price not in carried]


def subscription_state(obj: Mapping[str, Any]) -> SubscriptionState:
    """Read a subscription from an API answer or an event's ``data.object``; its item is the
    plan's (not an overage price's)."""
    items = (obj.get("items") or {}).get("data") or [{}]
    item = next((i for i in items if not _is_metered(i)), items[0])
    plan = _item_price(item) or obj.get("plan") or {}
    # Newer API versions keep the period on the item, older ones on the subscription.
    period_start = obj.get("current_period_start") or item.get("current_period_start")
    period_end = obj.get("current_period_end") or item.get("current_period_end")
    return SubscriptionState(
        id=str(obj["id"]),
        customer=str(obj["customer"]),
        status=_STATUSES.get(str(obj.get("status")), "none"),
        plan_id=plan.get("id"),
        item_id=item.get("id"),
        current_period_start=int(period_start) if period_start else None,
        current_period_end=int(period_end) if period_end else None,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        created=int(obj.get("created") or 0),
        metadata=dict(obj.get("metadata") or {}),
    )


class InvoiceLine(TypedDict):
    """One line of an invoice as billing keeps it (epoch seconds for the period)."""

    description: str
    amount_cents: int
    quantity: int | None
    proration: bool
    period_start: int | None
    period_end: int | None


MAX_INVOICE_LINES = 100


def invoice_lines(obj: Mapping[str, Any]) -> list[InvoiceLine]:
    """The lines of an invoice in an event's ``data.object`` (the page of them it carries)."""
    lines = (obj.get("lines") or {}).get("data") or []
    return [_invoice_line(line) for line in lines[:MAX_INVOICE_LINES] if isinstance(line, dict)]


def _invoice_line(line: Mapping[str, Any]) -> InvoiceLine:
    # Newer API versions say whether a line is a proration under its parent.
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    period = line.get("period") or {}
    quantity = line.get("quantity")
    return InvoiceLine(
        description=str(line.get("description") or "")[:500],
        amount_cents=int(line.get("amount") or 0),
        quantity=int(quantity) if isinstance(quantity, int) else None,
        proration=bool(line.get("proration") or details.get("proration")),
        period_start=int(period["start"]) if period.get("start") else None,
        period_end=int(period["end"]) if period.get("end") else None,
    )


def _ours(exc: stripe.StripeError) -> Exception:
    if isinstance(exc, stripe.CardError):
        return CardDeclined(exc.user_message or "The card was declined.")
    if isinstance(exc, stripe.InvalidRequestError):
        return ProviderRefused(exc.user_message or str(exc))
    if exc.http_status == 404:  # a route the server lacks (the test server's portal)
        return ProviderRefused(str(exc))
    return ProviderUnavailable(type(exc).__name__)


def _plain(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str | None = None) -> None:
        bases: Any = {"api": api_base} if api_base else None
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses=bases,
            http_client=stripe.HTTPXClient(),
            max_network_retries=2,
        )
        # Whether the server has Billing Meters and Prices (the test server has neither),
        # learnt from the first call that needs them; None until then.
        self.metering: bool | None = None
        self._overage_prices: dict[str, str] = {}

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _ours(exc) from exc

    async def _pages(self, first: Any, method: Any, params: dict[str, Any]) -> list[Any]:
        """Every object of a list answer, its later pages fetched."""
        found, page = list(first.data), first
        while page.has_more and page.data:
            params = {**params, "starting_after": page.data[-1].id}
            page = await self._call(method, params=params)
            found.extend(page.data)
        return found

    # customers and payment methods -------------------------------------------------------------

    async def create_customer(self, org_id: str, key: str) -> str:
        customer = await self._call(
            self.client.v1.customers.create_async,
            params={"metadata": {"org_id": org_id}},
            options={"idempotency_key": key},
        )
        return str(customer.id)

    async def attach_payment_method(self, customer: str, method: str, key: str) -> PaymentMethod:
        """Attach ``method`` and make it the customer's default for invoices."""
        try:
            attached = await self._attach(customer, method, key)
        except ProviderRefused:
            if method not in TEST_METHOD_STAND_INS:
                raise
            attached = await self._attach(customer, TEST_METHOD_STAND_INS[method], key)
        await self._call(
            self.client.v1.customers.update_async,
            customer,
            params={"invoice_settings": {"default_payment_method": attached.id}},
            options={"idempotency_key": f"{key}:default"},
        )
        card = _plain(attached).get("card") or {}
        return PaymentMethod(id=str(attached.id), brand=card.get("brand"), last4=card.get("last4"))

    async def _attach(self, customer: str, method: str, key: str) -> Any:
        return await self._call(
            self.client.v1.payment_methods.attach_async,
            method,
            params={"customer": customer},
            options={"idempotency_key": f"{key}:attach:{method}"},
        )

    # subscriptions -----------------------------------------------------------------------------

    async def create_subscription(
        self, customer: str, plan: Plan, metadata: dict[str, str], key: str
    ) -> SubscriptionState:
        """Subscribe ``customer`` to ``plan``, its trial days first (Stripe: ``trialing``)."""
        overage = [{"price": price} for price in await self.overage_prices(plan)]
        params: dict[str, Any] = {
            "customer": customer,
            "items": [{"plan": stripe_plan_id(plan)}, *overage],
            "metadata": metadata,
        }
        if plan.trial_days:
            params["trial_period_days"] = plan.trial_days
        created = await self._call(
            self.client.v1.subscriptions.create_async,
            params=params,
            options={"idempotency_key": key},
        )
        return subscription_state(_plain(created))

    async def change_plan(
        self, subscription_id: str, item_id: str | None, plan: Plan, key: str
    ) -> SubscriptionState:
        changed = await self._call(
            self.client.v1.subscriptions.update_async,
            subscription_id,
            # Stripe prorates by default; the test server fails on an explicit behaviour.
            params={"items": await self._changed_items(subscription_id, item_id, plan)},
            options={"idempotency_key": key},
        )
        return subscription_state(_plain(changed))

    async def _changed_items(
        self, subscription_id: str, item_id: str | None, plan: Plan
    ) -> list[dict[str, Any]]:
        """The items moving a subscription to ``plan``: its plan item changed, the old plan's
        overage prices removed and the new plan's added."""
        items: list[dict[str, Any]] = [{"id": item_id, "plan": stripe_plan_id(plan)}]
        overage = await self.overage_prices(plan)
        if self.metering is False:  # no metered items to replace
            return items
        found = await self._call(self.client.v1.subscriptions.retrieve_async, subscription_id)
        return items + _overage_changes(_plain(found), overage)

    async def reconcile_overage(self, plan: Plan, key: str) -> list[str]:
        """Make every subscription to ``plan`` not cancelled carry exactly the plan's overage
        Prices: one made before its Price existed gains it, one carrying another's (older
        terms, a plan changed elsewhere) loses that; the ids of those changed. Only what is
        missing or stale is changed, so running it again changes nothing; ``key``, the run's,
        keys each change. Without meters, nothing to do."""
        overage = await self.overage_prices(plan)
        if not self.metering:
            return []
        method = self.client.v1.subscriptions.list_async
        params: dict[str, Any] = {"price": stripe_plan_id(plan), "limit": 100}
        changed = []
        for subscription in await self._pages(
            await self._call(method, params=params), method, params
        ):
            found = _plain(subscription)
            if await self._set_overage(found, overage, key):
                changed.append(str(found["id"]))
        return changed

    async def match_overage(
        self, subscription_id: str, plan_of: Callable[[SubscriptionState], Plan], key: str
    ) -> bool:
        """Give the subscription exactly the overage Prices of the plan ``plan_of`` names for
        it as Stripe holds it now (read again: an event may show an older state), as a plan
        change through billing does; whether it changed (never without meters: no metered
        items to change)."""
        found = _plain(
            await self._call(self.client.v1.subscriptions.retrieve_async, subscription_id)
        )
        overage = await self.overage_prices(plan_of(subscription_state(found)))
        return await self._set_overage(found, overage, key)

    async def _set_overage(
        self, subscription: dict[str, Any], overage: list[str], key: str
    ) -> bool:
        """Leave ``subscription`` with exactly the metered Prices ``overage``; whether it had
        to change. The change is keyed by ``key`` and what it changes, so a retry of the same
        change is one, and another change never reuses a key."""
        items = _overage_changes(subscription, overage)
        if not items:
            return False
        listed = ",".join(str(i.get("price") or f"-{i['id']}") for i in items)
        changes = hashlib.sha256(listed.encode()).hexdigest()[:16]  # keys are 255 at most
        await self._call(
            self.client.v1.subscriptions.update_async,
            subscription["id"],
            params={"items": items},
            options={"idempotency_key": f"{key}:overage:{subscription['id']}:{changes}"},
        )
        return True

    async def cancel(self, subscription_id: str, *, at_period_end: bool, key: str) -> Any:
        if at_period_end:
            cancelled = await self._call(
                self.client.v1.subscriptions.update_async,
                subscription_id,
                params={"cancel_at_period_end": True},
                options={"idempotency_key": key},
            )
        else:
            cancelled = await self._call(
                self.client.v1.subscriptions.cancel_async,
                subscription_id,
                options={"idempotency_key": key},
            )
        return subscription_state(_plain(cancelled))

    async def preview_change(
        self, customer: str, subscription_id: str, item_id: str | None, plan: Plan
    ) -> Preview:
        invoice = await self._call(
            self.client.v1.invoices.create_preview_async,
            params={
                "customer": customer,
                "subscription": subscription_id,
                "subscription_details": {
                    "items": await self._changed_items(subscription_id, item_id, plan),
                    "proration_behavior": "create_prorations",
                },
            },
        )
        found = _plain(invoice)
        lines = [
            PreviewLine(
                description=str(line.get("description") or ""),
                amount_cents=int(line.get("amount") or 0),
                proration=bool(line.get("proration")),
            )
            for line in (found.get("lines") or {}).get("data") or []
        ]
        return Preview(amount_due_cents=int(found.get("amount_due") or 0), lines=lines)

    async def portal_url(self, customer: str, return_url: str, key: str) -> str:
        session = await self._call(
            self.client.v1.billing_portal.sessions.create_async,
            params={"customer": customer, "return_url": return_url},
            options={"idempotency_key": key},
        )
        return str(session.url)

    async def report_usage(
        self, meter: str, customer: str, value: int, identifier: str, timestamp: int
    ) -> None:
        """One meter event (``stripe.billing.MeterEvent``); Stripe keeps one per ``identifier``
        for 24 hours, so sending it again after a lost answer counts it once."""
        await self._call(
            self.client.v1.billing.meter_events.create_async,
            params={
                "event_name": meter,
                "payload": {"stripe_customer_id": customer, "value": str(value)},
                "identifier": identifier,
                "timestamp": timestamp,
            },
            # The value too: a key sent again must carry the same request.
            options={"idempotency_key": f"meter-event:{identifier}:{value}"},
        )

    async def events_since(self, since: int) -> list[dict[str, Any]]:
        """Every event Stripe still holds (30 days) created at ``since`` (epoch seconds) or
        later, oldest first."""
        method = self.client.v1.events.list_async
        params: dict[str, Any] = {"created": {"gte": since}, "limit": 100}
        events = await self._pages(await self._call(method, params=params), method, params)
        found = [_plain(e) for e in events]
        return sorted(found, key=lambda e: (int(e.get("created") or 0), str(e.get("id"))))

    # the catalogue -----------------------------------------------------------------------------

    async def _metered(self, method: Any, **kwargs: Any) -> Any:
        """Call a list route of meters or prices; None (and metering off, said once) when the
        server lacks it, as the test server does."""
        if self.metering is False:
            return None
        try:
            found = await method(**kwargs)
        except stripe.StripeError as exc:
            if exc.http_status != 404:
                raise _ours(exc) from exc
            self.metering = False
            log.warning("the provider has no billing meters or prices: usage is not billed")
            return None
        self.metering = True
        return found

    async def sync_meter(self, event_name: str) -> str | None:
        """The Billing Meter summing the meter events named ``event_name`` (found by that name,
        reactivated if deactivated, else created); None without meters."""
        method, params = self.client.v1.billing.meters.list_async, {"limit": 100}
        first = await self._metered(method, params=params)
        if first is None:
            return None
        for meter in await self._pages(first, method, params):
            if meter.event_name == event_name:
                if meter.status != "active":
                    await self._call(
                        self.client.v1.billing.meters.reactivate_async,
                        meter.id,
                        options={"idempotency_key": f"sync-plans:meter:{meter.id}:reactivate"},
                    )
                return str(meter.id)
        created = await self._call(
            self.client.v1.billing.meters.create_async,
            params={
                "display_name": event_name.replace("_", " ").capitalize(),
                "event_name": event_name,
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
                "value_settings": {"event_payload_key": "value"},
            },
            options={"idempotency_key": f"sync-plans:meter:{event_name}"},
        )
        return str(created.id)

    async def _prices(self, lookup_keys: list[str]) -> dict[str, str] | None:
        """The ids of the Prices of these lookup keys; None without prices."""
        found = await self._metered(
            self.client.v1.prices.list_async,
            params={"lookup_keys": lookup_keys, "limit": 100},
        )
        if found is None:
            return None
        return {str(p.lookup_key): str(p.id) for p in found.data}

    async def overage_prices(self, plan: Plan) -> list[str]:
        """The metered Prices a subscription to ``plan`` carries beside its Plan (none without
        meters); the plans must have been synced."""
        keys = [overage_lookup_key(plan, m) for m in _overage_meters(plan)]
        missing = [k for k in keys if k not in self._overage_prices]
        if missing and self.metering is not False:
            self._overage_prices.update(await self._prices(missing) or {})
            if self.metering and any(k not in self._overage_prices for k in missing):
                raise ProviderRefused(f"plan '{plan.key}': overage prices not synced")
        return [self._overage_prices[k] for k in keys if k in self._overage_prices]

    async def sync_overage(self, plan: Plan, product: str) -> list[str]:
        """Create the metered Prices of ``plan``'s overage that do not exist yet (found by lookup
        key), each on the meter of its events; their lookup keys (none without meters)."""
        meters = _overage_meters(plan)
        existing = await self._prices([overage_lookup_key(plan, m) for m in meters])
        if existing is None:
            return []
        for meter in meters:
            key = overage_lookup_key(plan, meter)
            if key in existing:
                continue
            meter_id = await self.sync_meter(meter.key)
            await self._call(
                self.client.v1.prices.create_async,
                params={
                    **self._overage_terms(meter),
                    "product": product,
                    "currency": plan.currency,
                    "lookup_key": key,
                    "nickname": f"{plan.name}: {meter.key} beyond {meter.included}",
                    "recurring": {
                        "interval": plan.interval,
                        "usage_type": "metered",
                        "meter": meter_id,
                    },
                    "metadata": {PLAN_METADATA: plan.key, METER_METADATA: meter.key},
                },
                options={"idempotency_key": f"sync-plans:price:{key}"},
            )
        return [overage_lookup_key(plan, m) for m in meters]

    @staticmethod
    def _overage_terms(meter: Meter) -> dict[str, Any]:
        """Free up to the included units, then the unit price (in cents, fractions allowed)."""
        unit = f"{meter.overage_cents_per_unit.normalize():f}"
        if not meter.included:
            return {"billing_scheme": "per_unit", "unit_amount_decimal": unit}
        return {
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": meter.included, "unit_amount": 0},
                {"up_to": "inf", "unit_amount_decimal": unit},
            ],
        }

    async def sync_plan(self, plan: Plan) -> str:
        """Create or update the plan's Product and Plan, found by metadata and id; returns the
        Stripe Plan id. Running it again changes nothing."""
        product = await self._product(plan)
        plan_id = stripe_plan_id(plan)
        try:
            await self._call(self.client.v1.plans.retrieve_async, plan_id)
        except ProviderRefused:
            await self._call(
                self.client.v1.plans.create_async,
                params={
                    "id": plan_id,
                    "product": product,
                    "amount": plan.price_cents,
                    "currency": plan.currency,
                    "interval": plan.interval,
                    "metadata": {PLAN_METADATA: plan.key},
                },
                options={"idempotency_key": f"sync-plans:{plan_id}"},
            )
        await self.sync_overage(plan, product)
        return plan_id

    async def _product(self, plan: Plan) -> str:
        products = await self._call(self.client.v1.products.list_async, params={"limit": 100})
        for product in products.data:
            if (_plain(product).get("metadata") or {}).get(PLAN_METADATA) == plan.key:
                if product.name != plan.name:
                    await self._call(
                        self.client.v1.products.update_async,
                        product.id,
                        params={"name": plan.name},
                        options={"idempotency_key": f"sync-plans:{plan.key}:{plan.name}"},
                    )
                return str(product.id)
        created = await self._call(
            self.client.v1.products.create_async,
            params={"name": plan.name, "metadata": {PLAN_METADATA: plan.key}},
            options={"idempotency_key": f"sync-plans:product:{plan.key}"},
        )
        return str(created.id)


def gateway_for(settings: BillingSettings) -> StripeGateway | None:
    """The Stripe client the settings describe; None without a key (billing then answers
    BILLING_PROVIDER_UNAVAILABLE)."""
    key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if not key:
        return None
    return StripeGateway(key, settings.stripe_api_base or None)
