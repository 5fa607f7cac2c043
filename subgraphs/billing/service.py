"""Business rules of billing: who may buy, change or cancel a plan, the plan an organization is
effectively on (a failed payment keeps it for the plan's grace days), and Stripe's webhook events
applied in order per object. No GraphQL here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import ANONYMOUS, Caller
from core.scopes import scopes_of
from subgraphs.billing import repository
from subgraphs.billing.contract import (
    API_REQUESTS_METER,
    PLAN_CHANGED_CHANNEL,
    WHITE_LABEL,
    BillingErrorCode,
)
from subgraphs.billing.gateway import (
    PLAN_METADATA,
    CardDeclined,
    Preview,
    ProviderRefused,
    ProviderUnavailable,
    StripeGateway,
    SubscriptionState,
    invoice_lines,
    stripe_plan_id,
    subscription_state,
)
from subgraphs.billing.ledger import Ledger, hour_of
from subgraphs.billing.models import BillingAccount, Invoice, Subscription, WebhookEvent
from subgraphs.billing.plans import FREE, Catalogue, Plan, catalogue
from subgraphs.billing.reporting import MeterReporter
from subgraphs.billing.settings import Settings
from subgraphs.billing.simulation import (
    LineDiff,
    MeterTerms,
    SimulatedInvoice,
    Terms,
    beyond,
    diff,
    invoice,
    months_of,
)
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.kernel.errors import ErrorCode, Rejected, checked, existing, require
from subgraphs.kernel.outbox import stage_announcement
from subgraphs.kernel.pagination import Page, decode_cursor, encode_cursor, page_size, trimmed
from subgraphs.notifications.contract import NotificationRequest, stage_notification
from subgraphs.notifications.contract import stage_white_label as tell_notifications
from subgraphs.themes.contract import stage_white_label as tell_themes
from subgraphs.workers.contract import PLAN_FEATURES
from subgraphs.workers.contract import stage_plan as tell_workers

log = logging.getLogger("vetrai.billing.service")
_EVENTS = {"app.billing_events": "on"}  # what shows webhook events to a transaction (RLS)
LIVE = ("trialing", "active", "past_due")
_INVOICE_STAGES = {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 2}
READ, WRITE = "billing:read", "billing:write"
OWNER = "owner"  # the role told about payments and spending (every owner, through notifications)
PAYMENT_FAILED_TEMPLATE = "billing.payment_failed"
SPEND_ALERT_TEMPLATE = "billing.usage_alert"
SPEND_ALERTS = (50, 80, 100)  # percent of a meter's included units, each told once a month
MAX_USAGE_DAYS = 366
MAX_DRAFT_CENTS = 100_000_000  # a draft's monthly price, and an overage unit's, at most
MAX_DRAFT_METERS = 20
MAX_SPEND_CAP_CENTS = 100_000_000  # a million dollars a month
T = TypeVar("T")


def effective_plan(plans: Catalogue, subscription: Subscription | None, now: datetime) -> Plan:
    """The plan of ``plans`` an organization's newest subscription grants at ``now``."""
    if subscription is None or subscription.status not in LIVE:
        return plans.free
    if lapsed_at(plans, subscription, now) is not None:
        return plans.free
    return plans.get(subscription.plan_key) or plans.free


def lapsed_at(plans: Catalogue, subscription: Subscription, now: datetime) -> datetime | None:
    """When a past-due subscription stopped granting its plan by ``now``: at once for a trial
    without a card, else once its plan's grace days ran out; None while it still grants it."""
    if subscription.status != "past_due":
        return None
    since = subscription.past_due_since or now
    if subscription.without_card:
        return since
    plan = plans.get(subscription.plan_key) or plans.free
    lapse = since + timedelta(days=plan.grace_days)
    return lapse if now >= lapse else None


@dataclass(frozen=True)
class AccountView:
    """What billing knows of one organization: its account (if it ever subscribed) and its
    current subscription (the newest one)."""

    org_id: UUID
    account: BillingAccount | None
    subscription: Subscription | None
    plan: Plan
    spend_cap_cents: int | None = None

    @property
    def capped_requests(self) -> int | None:
        """The month's requests at which the spend cap is reached: the included ones and as
        many beyond as the cap pays for (None: no cap, or requests beyond cost nothing)."""
        meter = next((m for m in self.plan.meters if m.key == API_REQUESTS_METER), None)
        if self.spend_cap_cents is None or meter is None or not meter.overage_cents_per_unit:
            return None
        paid = int(Decimal(self.spend_cap_cents) / meter.overage_cents_per_unit)
        return self.plan.included_per_month(API_REQUESTS_METER) + paid

    @property
    def status(self) -> str:
        return self.subscription.status if self.subscription else "none"


@dataclass(frozen=True)
class Usage:
    """Units of a meter used in a range of days; the units the plan grants over the calendar
    months the range touches, and those used beyond each month's."""

    total: int
    included: int
    overage: int


@dataclass(frozen=True)
class MeterUse:
    """One meter of a plan this calendar month: the units granted and those used."""

    meter: str
    included: int
    used: int

    @property
    def overage(self) -> int:
        return max(0, self.used - self.included)


@dataclass(frozen=True)
class DraftMeter:
    meter: str
    included: int
    overage_cents_per_unit: Decimal


@dataclass(frozen=True)
class DraftPlan:
    """Terms to try on an organization's use: a monthly price and its meters."""

    price_cents: int
    meters: list[DraftMeter]


@dataclass(frozen=True)
class Simulation:
    """The invoices of the current plan and of a draft for the same use, and what differs."""

    current: SimulatedInvoice
    draft: SimulatedInvoice
    diff: list[LineDiff]


@dataclass(frozen=True)
class InvoicePage:
    page: Page[Invoice]
    total: int


def holds(caller: Caller, org_id: UUID, scope: str) -> bool:
    """Whether the caller acts in ``org_id`` with ``scope`` (a key by scopes, a user by role)."""
    granted = caller.scopes if caller.key_id is not None else scopes_of(caller.roles)
    return caller.org_id == org_id and scope in granted


def _require(caller: Caller, org_id: UUID, scope: str) -> None:
    if not holds(caller, org_id, READ):
        raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown organization.", "organizationId")
    require(holds(caller, org_id, scope), ErrorCode.FORBIDDEN, "Only owners can change billing.")


def _epoch(moment: int | None) -> datetime | None:
    return datetime.fromtimestamp(moment, UTC) if moment else None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def usage_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The hours of the days ``first`` to ``last`` (both included): start and end (excluded)."""
    require(first <= last, ErrorCode.INVALID_INPUT, "`from` must not be after `to`.", "from")
    require(
        (last - first).days < MAX_USAGE_DAYS and last < date.max,
        ErrorCode.INVALID_INPUT,
        f"Ask for at most {MAX_USAGE_DAYS} days at once, before {date.max}.",
        "to",
    )
    return _midnight(first), _midnight(last + timedelta(days=1))


def this_month(now: datetime) -> tuple[datetime, datetime]:
    """The current calendar month (UTC): its first hour and the next month's."""
    start = _midnight(now.astimezone(UTC).date().replace(day=1))
    return start, _midnight((start + timedelta(days=32)).date().replace(day=1))


def is_event(event: object) -> bool:
    """Whether ``event`` has what applying a Stripe event reads."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance((event.get("data") or {}).get("object"), dict)
    )


def _command() -> str:
    """The id of one mutation: every Stripe write it makes derives its Idempotency-Key from it."""
    return f"billing:{uuid4()}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def return_url(url: str, app_url: str) -> str:
    """An address the portal may send the owner back to: https, or the platform's own origin
    (http on a laptop)."""
    scheme, host = _origin(url)
    require(
        bool(host)
        and len(url) <= 2000
        and "@" not in host
        and (scheme == "https" or (scheme, host) == _origin(app_url)),
        BillingErrorCode.INVALID_RETURN_URL,
        "Give an https address (or one on the platform's own origin) to come back to.",
        "returnUrl",
    )
    return url


async def _provider(call: Awaitable[T]) -> T:
    """A Stripe call whose failures are expected values for the caller."""
    try:
        return await call
    except ProviderUnavailable:
        raise Rejected.one(
            BillingErrorCode.BILLING_PROVIDER_UNAVAILABLE,
            "The payment provider cannot be reached; try again shortly.",
        ) from None
    except CardDeclined as exc:
        raise Rejected.one(BillingErrorCode.PAYMENT_FAILED, str(exc), "paymentMethodId") from None


class BillingService:
    def __init__(
        self, db: Database, redis: Redis, settings: Settings, gateway: StripeGateway | None
    ) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.plans = catalogue()
        self._gateway = gateway
        self.ledger = Ledger(db, redis, self.plans.meters, on_added=self._alert_spend)
        self.meter_reports = MeterReporter(db, gateway)

    @property
    def gateway(self) -> StripeGateway:
        if self._gateway is None:
            raise Rejected.one(
                BillingErrorCode.BILLING_PROVIDER_UNAVAILABLE, "No payment provider is set up."
            )
        return self._gateway

    def plan(self, key: str, field: str = "planKey") -> Plan:
        found = self.plans.get(key)
        if found is None:
            raise Rejected.one(BillingErrorCode.PLAN_NOT_FOUND, f"No plan '{key[:32]}'.", field)
        return found

    def effective_plan(self, subscription: Subscription | None, now: datetime) -> Plan:
        """The plan an organization's subscription grants now: its own while live (trial days
        included), still during the grace days after a failed payment, else the free plan; a
        trial that ended unpaid without a card gets no grace days."""
        return effective_plan(self.plans, subscription, now)

    # reading -----------------------------------------------------------------------------------

    async def accounts(self, caller: Caller, org_ids: list[UUID]) -> list[AccountView | None]:
        """Each organization's billing, in order (two queries for all); None unless the caller
        may read it."""
        visible = [o for o in org_ids if holds(caller, o, READ)]
        if not visible:
            return [None for _ in org_ids]
        async with self.db.transaction(caller) as session:
            current = await repository.current_of(session, visible)
            accounts = await repository.accounts_of(session, visible)
            caps = await repository.spend_caps_of(session, visible)
        now = utcnow()
        views = {
            o: AccountView(
                o,
                accounts.get(o),
                current.get(o),
                self.effective_plan(current.get(o), now),
                caps.get(o),
            )
            for o in visible
        }
        return [views.get(o) for o in org_ids]

    async def subscriptions(self, caller: Caller, ids: list[str]) -> list[Subscription | None]:
        """Subscriptions by id, in order; None where the caller may not read their billing."""
        async with self.db.transaction(caller) as session:
            rows = await repository.subscriptions_by_id(session, ids)
            found = {s.id: s for s in rows if holds(caller, s.org_id, READ)}
        return [found.get(i) for i in ids]

    async def invoices_by_id(self, caller: Caller, ids: list[str]) -> list[Invoice | None]:
        """Invoices by id, in order; None where the caller may not read their billing."""
        async with self.db.transaction(caller) as session:
            rows = await repository.invoices_by_id(session, ids)
            found = {i.id: i for i in rows if holds(caller, i.org_id, READ)}
        return [found.get(i) for i in ids]

    async def invoices(
        self, caller: Caller, org_id: UUID, first: int, after: str | None
    ) -> InvoicePage:
        """The organization's invoices, newest first."""
        size = page_size(first)
        if not holds(caller, org_id, READ):
            return InvoicePage(Page(items=[], has_next=False), 0)
        before: tuple[datetime, str] | None = None
        if after is not None:
            created, invoice_id = decode_cursor(after, 2)
            before = datetime.fromisoformat(created), invoice_id
        async with self.db.transaction(caller) as session:
            invoices, total = await repository.invoice_page(session, org_id, size, before)
        return InvoicePage(trimmed(invoices, size), total)

    @staticmethod
    def cursor(invoice: Invoice) -> str:
        return encode_cursor(invoice.created.isoformat(), invoice.id)

    # usage -------------------------------------------------------------------------------------

    def _meter(self, meter: str) -> str:
        require(
            meter in self.plans.meters,
            ErrorCode.INVALID_INPUT,
            f"No meter '{meter[:64]}'; meters: {', '.join(sorted(self.plans.meters))}.",
            "meter",
        )
        return meter

    async def usage(
        self, caller: Caller, view: AccountView, meter: str, first: date, last: date
    ) -> Usage:
        """What the organization used of ``meter`` on the days ``first`` to ``last``, against
        the units its plan grants each calendar month the range touches (as ``simulatePlan``
        counts them: a month counts whole, its use only within the range)."""
        found = checked(meter=lambda: self._meter(meter), hours=lambda: usage_range(first, last))
        _require(caller, view.org_id, READ)
        return await self._usage(caller, view.org_id, view.plan, meter, *found["hours"])

    async def subscription_usage(
        self, caller: Caller, subscription: Subscription, meter: str, first: date, last: date
    ) -> Usage:
        """``usage`` of the days ``first`` to ``last`` scoped to one subscription: the hours
        from the one it was made in up to the one billing saw it end in, against its own plan
        (an organization has one live subscription at a time, so these hours are its use)."""
        found = checked(meter=lambda: self._meter(meter), hours=lambda: usage_range(first, last))
        _require(caller, subscription.org_id, READ)
        start, end = found["hours"]
        start = max(start, hour_of(subscription.created_at))
        if subscription.ended_at is not None:
            end = min(end, hour_of(subscription.ended_at))
        plan = self.plans.get(subscription.plan_key) or self.plans.free
        return await self._usage(caller, subscription.org_id, plan, meter, start, max(start, end))

    async def _usage(
        self, caller: Caller, org_id: UUID, plan: Plan, meter: str, start: datetime, end: datetime
    ) -> Usage:
        """The use of ``meter`` in the hours ``start`` to ``end`` (excluded) against ``plan``'s
        units of each calendar month they touch."""
        used = await self.ledger.monthly(caller, org_id, meter, start, end)
        months = months_of(start.date(), (end - timedelta(hours=1)).date()) if start < end else []
        per_month = plan.included_per_month(meter)
        return Usage(
            total=sum(used.values()),
            included=per_month * len(months),
            overage=beyond(used, months, per_month),
        )

    async def this_months_use(self, caller: Caller, view: AccountView) -> list[MeterUse]:
        """This calendar month's use of each meter of the organization's plan (one ledger read
        for all); empty unless the caller may read its billing."""
        if not holds(caller, view.org_id, READ):
            return []
        start, end = this_month(utcnow())
        used = await self.ledger.by_month(caller, view.org_id, start, end)
        month = start.date()
        return [
            MeterUse(m.key, view.plan.included_per_month(m.key), used.get((month, m.key), 0))
            for m in view.plan.meters
        ]

    async def used(self, caller: Caller, view: AccountView) -> dict[str, int]:
        """This month's use of each metered feature of the plan, by feature."""
        found = {use.meter: use.used for use in await self.this_months_use(caller, view)}
        return {f.key: found[f.meter] for f in view.plan.features if f.meter in found}

    async def preview_plan_change(self, caller: Caller, org_id: UUID, plan_key: str) -> Preview:
        """What changing to ``plan_key`` now would be invoiced, prorations included."""
        _require(caller, org_id, READ)
        plan = self.plan(plan_key)
        async with self.db.transaction(caller) as session:
            subscription = await self._live(session, org_id)
            account = existing(await session.get(BillingAccount, org_id), "billing account")
        require(
            plan.key != subscription.plan_key,
            BillingErrorCode.SAME_PLAN,
            "This is the current plan.",
            "planKey",
        )
        return await _provider(
            self.gateway.preview_change(
                account.stripe_customer_id, subscription.id, subscription.item_id, plan
            )
        )

    async def simulate_plan(
        self, caller: Caller, org_id: UUID, draft: DraftPlan, first: date, last: date
    ) -> Simulation:
        """The organization's ledger of the days ``first`` to ``last`` invoiced on its current
        plan and on ``draft``; every month the range touches counts whole (its price and its
        included units), its use only within the range. Owners only; nothing changes."""
        found = checked(hours=lambda: usage_range(first, last), draft=lambda: self._terms(draft))
        _require(caller, org_id, WRITE)
        start, end = found["hours"]
        [view] = await self.accounts(caller, [org_id])
        assert view is not None  # noqa: S101 - the caller may read it (required above)
        used = await self.ledger.by_month(caller, org_id, start, end)
        months = months_of(first, last)
        current = invoice(Terms.of(view.plan), months, used)
        proposed = invoice(found["draft"], months, used)
        return Simulation(current, proposed, diff(current, proposed))

    def _terms(self, draft: DraftPlan) -> Terms:
        field = "draftPlan"
        require(
            0 <= draft.price_cents <= MAX_DRAFT_CENTS,
            ErrorCode.INVALID_INPUT,
            f"A monthly price of 0 to {MAX_DRAFT_CENTS} cents.",
            f"{field}.priceCents",
        )
        keys = [m.meter for m in draft.meters]
        require(
            len(keys) <= MAX_DRAFT_METERS and len(set(keys)) == len(keys),
            ErrorCode.INVALID_INPUT,
            f"At most {MAX_DRAFT_METERS} meters, each once.",
            f"{field}.meters",
        )
        for meter in draft.meters:
            price = meter.overage_cents_per_unit
            require(
                meter.meter in self.plans.meters
                and 0 <= meter.included <= 2**53
                and price.is_finite()
                and 0 <= price <= MAX_DRAFT_CENTS
                and price == price.quantize(Decimal("0.000001")),
                ErrorCode.INVALID_INPUT,
                f"Meters: {', '.join(sorted(self.plans.meters))}; included units of 0 or more;"
                " an overage price of 0 or more cents per unit, to 6 decimals.",
                f"{field}.meters",
            )
        meters = tuple(
            MeterTerms(m.meter, m.included, m.overage_cents_per_unit) for m in draft.meters
        )
        return Terms(name="Draft", monthly_cents=Decimal(draft.price_cents), meters=meters)

    async def _live(self, session: AsyncSession, org_id: UUID) -> Subscription:
        subscription = await repository.current(session, org_id)
        if subscription is None or subscription.status not in LIVE:
            raise Rejected.one(BillingErrorCode.NO_SUBSCRIPTION, "There is no subscription.")
        return subscription

    # changing ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def _owner_transaction(self, caller: Caller, org_id: UUID) -> AsyncIterator[AsyncSession]:
        """An owner's transaction, one per organization at a time (Stripe calls happen inside,
        so two concurrent purchases cannot both subscribe)."""
        _require(caller, org_id, WRITE)
        async with self.db.transaction(caller) as session:
            await repository.lock_organization(session, org_id)
            yield session

    async def start_subscription(
        self, caller: Caller, org_id: UUID, plan_key: str, payment_method: str | None
    ) -> Subscription:
        plan = self.plan(plan_key)
        require(
            not plan.is_free,
            ErrorCode.INVALID_INPUT,
            "The free plan needs no subscription.",
            "planKey",
        )
        method = (payment_method or "").strip()
        require(
            len(method) <= 255 and (bool(method) or plan.trial_days > 0),
            BillingErrorCode.NO_PAYMENT_METHOD,
            "Add a card first.",
            "paymentMethodId",
        )
        command = _command()
        async with self._owner_transaction(caller, org_id) as session:
            current = await repository.current(session, org_id)
            require(
                current is None or current.status not in LIVE,
                BillingErrorCode.ALREADY_SUBSCRIBED,
                "This organization already has a subscription; change its plan instead.",
            )
            account = await self._account(session, org_id)
            if method:
                card = await self._attach(account.stripe_customer_id, method, command)
                account.payment_method_brand, account.payment_method_last4 = card
                session.add(account)
            state = await _provider(
                self.gateway.create_subscription(
                    account.stripe_customer_id,
                    plan,
                    {"org_id": str(org_id), PLAN_METADATA: plan.key},
                    f"{command}:subscription",
                )
            )
            # A trial waits for no payment (a test server without trials says `incomplete`:
            # Stripe's events then tell its status).
            if state.status == "none" and not plan.trial_days:
                await _provider(
                    self.gateway.cancel(state.id, at_period_end=False, key=f"{command}:void")
                )
                raise Rejected.one(
                    BillingErrorCode.PAYMENT_FAILED,
                    "The card was declined.",
                    "paymentMethodId",
                )
            subscription = self._stored(org_id, plan.key, state)
            subscription.without_card = not method
            session.add(subscription)
            await self._announce(session, org_id, self.effective_plan(subscription, utcnow()))
        return subscription

    async def _attach(self, customer: str, method: str, command: str) -> tuple[str | None, str]:
        try:
            card = await _provider(self.gateway.attach_payment_method(customer, method, command))
        except ProviderRefused:
            raise Rejected.one(
                BillingErrorCode.NO_PAYMENT_METHOD, "Unknown payment method.", "paymentMethodId"
            ) from None
        return card.brand, (card.last4 or "")[-4:]

    async def _account(self, session: AsyncSession, org_id: UUID) -> BillingAccount:
        account = await session.get(BillingAccount, org_id)
        if account is None:
            customer = await _provider(
                self.gateway.create_customer(str(org_id), f"billing:customer:{org_id}")
            )
            account = BillingAccount(org_id=org_id, stripe_customer_id=customer)
            session.add(account)
            await session.flush()
        return account

    @staticmethod
    def _stored(org_id: UUID, plan_key: str, state: SubscriptionState) -> Subscription:
        return Subscription(
            id=state.id,
            org_id=org_id,
            plan_key=plan_key,
            status=state.status,
            item_id=state.item_id,
            current_period_start=_epoch(state.current_period_start),
            current_period_end=_epoch(state.current_period_end),
            cancel_at_period_end=state.cancel_at_period_end,
            state_at=state.created,
            ended_at=utcnow() if state.status == "canceled" else None,
        )

    async def change_plan(self, caller: Caller, org_id: UUID, plan_key: str) -> Subscription:
        plan = self.plan(plan_key)
        command = _command()
        async with self._owner_transaction(caller, org_id) as session:
            subscription = await self._live(session, org_id)
            require(
                plan.key != subscription.plan_key,
                BillingErrorCode.SAME_PLAN,
                "This is the current plan.",
                "planKey",
            )
            require(
                not plan.is_free,
                ErrorCode.INVALID_INPUT,
                "Cancel the subscription to go back to the free plan.",
                "planKey",
            )
            changed = await _provider(
                self.gateway.change_plan(subscription.id, subscription.item_id, plan, command)
            )
            self._answered(subscription, changed, plan.key)
            session.add(subscription)
            await self._announce(session, org_id, self.effective_plan(subscription, utcnow()))
        return subscription

    async def set_spend_cap(self, caller: Caller, org_id: UUID, amount_cents: int | None) -> None:
        """Cap (or, with None, stop capping) what a month's overage may cost; the router refuses
        the organization's requests past it from its next identity lookup (announced)."""
        require(
            amount_cents is None or 0 <= amount_cents <= MAX_SPEND_CAP_CENTS,
            ErrorCode.INVALID_INPUT,
            f"A cap of 0 to {MAX_SPEND_CAP_CENTS} cents, or null for none.",
            "amountCents",
        )
        async with self._owner_transaction(caller, org_id) as session:
            await repository.save_spend_cap(session, org_id, amount_cents)
            current = await repository.current(session, org_id)
            await self._announce(session, org_id, self.effective_plan(current, utcnow()))

    async def cancel_subscription(
        self, caller: Caller, org_id: UUID, at_period_end: bool
    ) -> Subscription:
        command = _command()
        async with self._owner_transaction(caller, org_id) as session:
            subscription = await self._live(session, org_id)
            state = await _provider(
                self.gateway.cancel(subscription.id, at_period_end=at_period_end, key=command)
            )
            self._answered(subscription, state, subscription.plan_key)
            session.add(subscription)
            await self._announce(session, org_id, self.effective_plan(subscription, utcnow()))
        return subscription

    @classmethod
    def _answered(cls, subscription: Subscription, state: SubscriptionState, plan_key: str) -> None:
        """A change billing made, as Stripe answered it: newer than every event made before it,
        so an older one delivered later (Stripe retries for days) does not undo it."""
        cls._update(subscription, state, plan_key)
        subscription.state_at = max(subscription.state_at, int(utcnow().timestamp()))

    @staticmethod
    def _update(subscription: Subscription, state: SubscriptionState, plan_key: str) -> None:
        subscription.plan_key = plan_key
        subscription.status = state.status
        subscription.item_id = state.item_id or subscription.item_id
        subscription.current_period_start = _epoch(state.current_period_start)
        subscription.current_period_end = _epoch(state.current_period_end)
        subscription.cancel_at_period_end = state.cancel_at_period_end
        if state.status != "past_due":
            subscription.past_due_since = None
        if state.status == "active":  # paid: a card is on file now
            subscription.without_card = False
        if state.status == "canceled":
            subscription.ended_at = subscription.ended_at or utcnow()
        subscription.updated_at = utcnow()

    async def portal_url(self, caller: Caller, org_id: UUID, return_to: str) -> str:
        """A short-lived Stripe billing portal page for the organization's customer."""
        url = return_url(return_to, self.settings.core.public_url)
        _require(caller, org_id, WRITE)
        async with self.db.transaction(caller) as session:
            account = await session.get(BillingAccount, org_id)
        require(
            account is not None,
            BillingErrorCode.NO_SUBSCRIPTION,
            "Subscribe to a plan first.",
        )
        assert account is not None  # noqa: S101 - checked just above
        try:
            return await _provider(
                self.gateway.portal_url(account.stripe_customer_id, url, _command())
            )
        except ProviderRefused:
            raise Rejected.one(
                BillingErrorCode.PORTAL_UNAVAILABLE,
                "The payment provider offers no billing portal here (the test server has none).",
            ) from None

    @staticmethod
    async def _announce(
        session: AsyncSession, org_id: UUID, plan: Plan, as_of: datetime | None = None
    ) -> None:
        """Tell routers (once the change is committed) to forget the organization's plan, and
        themes and notifications by durable jobs whether it grants ``white_label``, workers how
        many jobs may run at once and how long their history is kept; those copies keep the
        word of the latest ``as_of`` (the moment the plan took effect, now unless given)."""
        message = {"org_id": str(org_id), "plan": plan.key}
        await stage_announcement(session, PLAN_CHANGED_CHANNEL, message)
        await repository.save_announced(session, org_id, plan.key)
        white_label, as_of = plan.enabled(WHITE_LABEL), as_of or utcnow()
        await tell_themes(session, org_id, white_label, as_of)
        await tell_notifications(session, org_id, white_label, as_of)
        await tell_workers(session, org_id, plan.grants_of(PLAN_FEATURES), as_of)

    async def announce_lapses(self) -> list[UUID]:
        """Announce the effective plan of every past-due organization whose grace days ran
        out since its plan was last announced (no event marks that moment), as a plan change
        is announced; the organizations announced. Run again, it announces none of them."""
        listed = await self.lapse_candidates()
        return [org_id for org_id in listed if await self.announce_lapse(org_id)]

    async def lapse_candidates(self) -> list[UUID]:
        """The organizations whose grace days may have run out unannounced: past due, the
        free plan not announced for them."""
        async with self.db.transaction(ANONYMOUS) as session:
            return await repository.past_due_not_announced_as(session, self.plans.free.key)

    async def announce_lapse(self, org_id: UUID) -> bool:
        """Announce a listed organization's effective plan unless it is the one last
        announced; whether it was. The listing's condition is read again under the lock, so
        a listing gone stale (another sweep announced the lapse meanwhile) changes nothing:
        read on an earlier clock than the other sweep's, the paid plan would be announced
        again. Only an event takes a lapsed organization off the free plan."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            await repository.lock_organization(session, org_id)
            subscription = await repository.current_locked(session, org_id)
            announced = await repository.announced_plan(session, org_id)
            now = utcnow()
            plan = self.effective_plan(subscription, now)
            if subscription is None or subscription.status != "past_due":
                return False
            if announced in (self.plans.free.key, plan.key):
                return False
            # A lapse took effect when the grace days ran out, not when the sweep came by.
            await self._announce(session, org_id, plan, lapsed_at(self.plans, subscription, now))
        return True

    async def _alert_spend(
        self, session: AsyncSession, org_id: UUID, meter: str, added: int
    ) -> None:
        """Tell the owners once per month when the use of a meter crosses 50, 80 or 100 % of
        the units the plan includes (in the transaction that recorded the use)."""
        if await session.get(BillingAccount, org_id) is None:  # never subscribed: nothing to pay
            return
        now = utcnow()
        subscription = await repository.current(session, org_id)
        included = self.effective_plan(subscription, now).included_per_month(meter)
        if not included:
            return
        start, end = this_month(now)
        after = await self.ledger.stored(session, org_id, meter, start, end)
        for percent in SPEND_ALERTS:
            if after - added < included * percent / 100 <= after:
                await stage_notification(
                    session, _spend_alert(org_id, meter, percent, included, f"{start:%Y%m}")
                )

    # webhook events ----------------------------------------------------------------------------

    def _events(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction(ANONYMOUS, _EVENTS)

    async def receive_event(self, event: Mapping[str, Any]) -> bool:
        """Store an event once per id with the job that applies it, in one statement; True when
        it is new. The worker's relay sends the job: nothing here waits for Redis, and a job
        whose process ended right after the commit is sent all the same."""
        async with self._events() as session:
            return await repository.store_event(session, event)

    async def replay_events(self, events: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
        """Store and apply, oldest first, the events billing missed (never received, or never
        applied); their ids and types. An event already applied changes nothing."""
        wanted = [e for e in events if is_event(e)]
        async with self._events() as session:
            done = await repository.applied_events(session, [str(e["id"]) for e in wanted])
        missed = [e for e in wanted if e["id"] not in done]
        for event in missed:
            await self.receive_event(event)
            await self.apply_event(str(event["id"]))
        return [(str(e["id"]), str(e["type"])) for e in missed]

    async def pending_events(self, older_than: timedelta) -> list[str]:
        """Events received before ``older_than`` ago and not applied yet (their job was lost)."""
        async with self._events() as session:
            return await repository.unapplied_events(session, utcnow() - older_than)

    async def apply_event(self, event_id: str) -> bool:
        """Apply a stored event to the organization its customer belongs to; False when it was
        already applied or is unknown. An event for no known customer is kept and ignored."""
        async with self._events() as session:
            event = await repository.locked_event(session, event_id)
            if event is None or event.applied_at is not None:
                return False
            obj: dict[str, Any] = event.payload.get("data", {}).get("object", {})
            org_id = await self._organization_of(session, obj.get("customer"))
            if org_id is not None:
                await set_local(session, "app.org_id", org_id)
                changed = await self._apply(session, org_id, event, obj)
                if changed is not None:
                    await self._announce(session, org_id, changed)
            event.org_id, event.applied_at = org_id, utcnow()
            session.add(event)
        return True

    async def _organization_of(self, session: AsyncSession, customer: object) -> UUID | None:
        if not isinstance(customer, str) or not customer:
            return None
        return await repository.organization_of_customer(session, customer)

    async def _apply(
        self, session: AsyncSession, org_id: UUID, event: WebhookEvent, obj: dict[str, Any]
    ) -> Plan | None:
        """Apply one event under a lock on its object; the organization's plan if it is not
        the one last announced (grace days that ran out unannounced count as a change)."""
        await repository.lock_object(session, str(obj.get("id")))
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            await handler(self, session, org_id, event, obj)
        await session.flush()
        after = self.effective_plan(await repository.current(session, org_id), utcnow())
        return after if after.key != await repository.announced_plan(session, org_id) else None

    def _plan_key(self, state: SubscriptionState, stored: Subscription | None) -> str:
        for plan in self.plans.plans:
            if not plan.is_free and stripe_plan_id(plan) == state.plan_id:
                return plan.key
        named = state.metadata.get(PLAN_METADATA)
        if named and self.plans.get(named):
            return named
        return stored.plan_key if stored else FREE

    async def _on_subscription(
        self, session: AsyncSession, org_id: UUID, event: WebhookEvent, obj: dict[str, Any]
    ) -> None:
        """Events carry the object as it was then: an older one never undoes a newer state, a
        creation never overwrites, and a cancelled subscription stays cancelled."""
        state = subscription_state(obj)
        stored = await repository.locked_subscription(session, state.id)
        if stored is None:
            created_row = self._stored(org_id, self._plan_key(state, None), state)
            created_row.state_at = event.created
            inserted = await repository.insert_new(session, created_row)
            if inserted and created_row.status != "canceled":  # made in Stripe's dashboard, say
                await self._match_overage(event, state.id)
            return
        deleted = event.type == "customer.subscription.deleted"
        created = event.type == "customer.subscription.created"
        # A creation event delivered late (after a change made through billing, which keeps
        # the creation's time) carries the plan it was created on.
        if not deleted and (
            created or stored.status == "canceled" or event.created < stored.state_at
        ):
            return
        was_past_due, plan_key = stored.status == "past_due", stored.plan_key
        self._update(stored, state, self._plan_key(state, stored))
        if stored.plan_key != plan_key and stored.status != "canceled":
            await self._match_overage(event, stored.id)
        if stored.status == "past_due" and was_past_due:
            stored.past_due_since = stored.past_due_since or _epoch(event.created)
        elif stored.status == "past_due":
            stored.past_due_since = _epoch(event.created)
        stored.state_at = max(stored.state_at, event.created)
        session.add(stored)

    async def _match_overage(self, event: WebhookEvent, subscription_id: str) -> None:
        """A subscription made or moved to another plan outside billing (Stripe's portal or
        dashboard) gets its plan's overage Prices now, as one made or changed through billing
        does (one billing made already has them: nothing changes). An outage fails the event, which
        the sweep of unapplied events applies again; unsynced Prices wait for sync-plans."""
        if self._gateway is None:
            return
        try:
            await self._gateway.match_overage(
                subscription_id,
                lambda state: self.plans.get(self._plan_key(state, None)) or self.plans.free,
                f"billing:event:{event.id}",
            )
        except ProviderRefused:
            log.warning(
                "overage prices not matched: run sync-plans",
                extra={"fields": {"subscription": subscription_id}},
            )

    async def _on_invoice(
        self, session: AsyncSession, org_id: UUID, event: WebhookEvent, obj: dict[str, Any]
    ) -> None:
        await self._store_invoice(session, org_id, event, obj)
        if event.type == "invoice.payment_failed":
            await self._tell_owners(session, org_id, obj)
        subscription_id = obj.get("subscription") or (
            (obj.get("parent") or {}).get("subscription_details") or {}
        ).get("subscription")
        if not isinstance(subscription_id, str):
            return
        stored = await repository.locked_subscription(session, subscription_id)
        if stored is None or stored.status == "canceled" or event.created < stored.state_at:
            return
        if event.type == "invoice.payment_failed" and stored.status != "past_due":
            stored.status, stored.past_due_since = "past_due", _epoch(event.created)
        elif event.type in ("invoice.paid", "invoice.payment_succeeded"):
            stored.status, stored.past_due_since, stored.without_card = "active", None, False
        else:
            return
        stored.state_at, stored.updated_at = event.created, utcnow()
        session.add(stored)

    @staticmethod
    async def _tell_owners(session: AsyncSession, org_id: UUID, obj: dict[str, Any]) -> None:
        """Email every owner of the organization (notifications knows who they are) about a
        failed payment, once per invoice and attempt (Stripe's retries are new attempts); not
        once the invoice is paid (a late event)."""
        invoice = await session.get(Invoice, str(obj["id"]))
        if invoice is None or invoice.org_id != org_id or invoice.status == "paid":
            return
        attempt = int(obj.get("attempt_count") or 1)
        request = NotificationRequest(
            template_key=PAYMENT_FAILED_TEMPLATE,
            category="billing",
            recipients=[],
            roles=[OWNER],
            idempotency_key=f"{PAYMENT_FAILED_TEMPLATE}:{invoice.id}:{attempt}",
            data={
                "invoice": invoice.number or invoice.id,
                "amount": f"{invoice.total_cents / 100:.2f} {invoice.currency.upper()}",
                "attempt": attempt,
                "link": invoice.hosted_url or "",
            },
            org_id=org_id,
        )
        await stage_notification(session, request)

    async def _store_invoice(
        self, session: AsyncSession, org_id: UUID, event: WebhookEvent, obj: dict[str, Any]
    ) -> None:
        """Keep the invoice as the newest event shows it; events of one second (Stripe's
        granularity) never move it back (a draft after its payment stays paid)."""
        status = str(obj.get("status") or "draft")[:16]
        stored = await repository.locked_invoice(session, str(obj["id"]))
        if stored is not None and (
            stored.org_id != org_id
            or event.created < stored.state_at
            or (
                event.created == stored.state_at
                and _INVOICE_STAGES.get(status, 0) < _INVOICE_STAGES.get(stored.status, 0)
            )
        ):
            return
        invoice = stored or Invoice(
            id=str(obj["id"]), org_id=org_id, created=_epoch(obj.get("created")) or utcnow()
        )
        invoice.number = obj.get("number") or invoice.id
        invoice.status = status
        invoice.total_cents = int(obj.get("total") or 0)
        invoice.currency = str(obj.get("currency") or "usd")[:3]
        invoice.hosted_url = obj.get("hosted_invoice_url")
        invoice.pdf_url = obj.get("invoice_pdf")
        invoice.period_start = _epoch(obj.get("period_start"))
        invoice.period_end = _epoch(obj.get("period_end"))
        invoice.lines = [dict(line) for line in invoice_lines(obj)]
        invoice.state_at = event.created
        if stored is None:
            await repository.insert_new(session, invoice)
        else:
            session.add(invoice)


def _spend_alert(
    org_id: UUID, meter: str, percent: int, included: int, month: str
) -> NotificationRequest:
    return NotificationRequest(
        template_key=SPEND_ALERT_TEMPLATE,
        category="billing",
        recipients=[],
        roles=[OWNER],
        idempotency_key=f"{SPEND_ALERT_TEMPLATE}:{org_id}:{meter}:{month}:{percent}",
        data={"meter": meter, "percent": percent, "included": included},
        org_id=org_id,
    )


Handler = Callable[
    [BillingService, AsyncSession, UUID, WebhookEvent, dict[str, Any]], Awaitable[None]
]
_HANDLERS: dict[str, Handler] = {
    "customer.subscription.created": BillingService._on_subscription,
    "customer.subscription.updated": BillingService._on_subscription,
    "customer.subscription.deleted": BillingService._on_subscription,
    **{
        f"invoice.{kind}": BillingService._on_invoice
        for kind in (
            "created",
            "finalized",
            "updated",
            "paid",
            "payment_succeeded",
            "payment_failed",
            "voided",
            "marked_uncollectible",
        )
    },
}
