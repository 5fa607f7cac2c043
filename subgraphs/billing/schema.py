"""The billing subgraph's GraphQL schema: plans, an organization's plan (taken over from
tenancy), billing account, entitlements, subscription and invoices, and the billing mutations."""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry
from graphql import GraphQLError

from subgraphs.billing import models, simulation
from subgraphs.billing.contract import REQUESTS_PER_MONTH, REQUESTS_SPEND_CAP, BillingErrorCode
from subgraphs.billing.plans import Plan as PlanTerms
from subgraphs.billing.service import AccountView, BillingService, DraftMeter, DraftPlan
from subgraphs.billing.service import Usage as MeterUsage
from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.errors import Rejected
from subgraphs.kernel.pagination import PageInfo
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
)
from subgraphs.kernel.validation import identifier, uuid_or_none

Info = strawberry.Info[RequestContext[BillingService], None]
P = TypeVar("P")


@strawberry.enum(name="BillingStatus", description="Where an organization's subscription stands.")
class BillingStatus(enum.Enum):
    NONE = strawberry.enum_value("none", description="Never subscribed: the free plan.")
    TRIALING = strawberry.enum_value("trialing", description="In the plan's trial days.")
    ACTIVE = strawberry.enum_value("active", description="Paid up.")
    PAST_DUE = strawberry.enum_value(
        "past_due",
        description="A payment failed; the plan is kept for its grace days while Stripe"
        " retries, then the free plan applies.",
    )
    CANCELED = strawberry.enum_value(
        "canceled", description="Ended (or never completed): the free plan."
    )


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class BillingUserError(UserError):
    code: enum.StrEnum = strawberry.field(
        graphql_type=error_codes(BillingErrorCode), description=CODE
    )


@strawberry.type(description="What a plan grants: on/off (`enabled`) or up to `limit`.")
class PlanFeature:
    key: str = strawberry.field(
        description="The feature: `api_requests_per_minute`, `api_requests_per_month`,"
        " `api_keys`, `concurrent_jobs`, `job_history_days`, `white_label`, `sla_policies`."
    )
    enabled: bool = strawberry.field(description="Whether the plan grants it at all.")
    limit: int | None = strawberry.field(description="Null: unlimited (or not a counted feature).")


@strawberry.type(description="A usage meter and the units each period includes.")
class PlanMeter:
    key: str = strawberry.field(description="What is counted (`api_requests`).")
    included_units: int = strawberry.field(description="Units the price covers each period.")
    included_per_month: int = strawberry.field(
        description="Units granted each calendar month (UTC), against which use, quotas and"
        " overage are counted: a yearly plan's units paced a twelfth a month; a month's unused"
        " units do not carry over."
    )


@strawberry.federation.type(keys=["key"], description="A plan an organization can be on.")
class Plan:
    key: str = strawberry.field(
        description="Its key (`free`, `pro`, `team`), as mutations take it."
    )
    name: str = strawberry.field(description="Its display name.")
    interval: str = strawberry.field(
        description="How often it is billed: `month` or `year` (its units still granted monthly)."
    )
    price_cents: int = strawberry.field(
        description="The price per interval, in the currency's smallest unit (cents)."
    )
    currency: str = strawberry.field(description="ISO 4217 code, lower case (`usd`).")
    trial_days: int = strawberry.field(description="Free days before the first payment.")
    grace_days: int = strawberry.field(
        description="Days the plan is kept after a failed payment, while Stripe retries."
    )
    features: list[PlanFeature] = strawberry.field(description="What it grants.")
    meters: list[PlanMeter] = strawberry.field(description="The usage it includes.")
    quota: str = strawberry.field(
        description="Past the monthly request quota: `hard` refuses requests, `soft` answers "
        "them with an `X-Quota-Exceeded` header."
    )

    @classmethod
    def of(cls, plan: PlanTerms) -> Plan:
        return cls(
            key=plan.key,
            name=plan.name,
            interval=plan.interval,
            price_cents=plan.price_cents,
            currency=plan.currency,
            trial_days=plan.trial_days,
            grace_days=plan.grace_days,
            features=[
                PlanFeature(key=f.key, enabled=f.enabled, limit=f.limit) for f in plan.features
            ],
            meters=[
                PlanMeter(
                    key=m.key,
                    included_units=m.included,
                    included_per_month=plan.included_per_month(m.key),
                )
                for m in plan.meters
            ],
            quota=plan.quota,
        )

    @classmethod
    def resolve_reference(cls, info: Info, key: str) -> Plan | None:
        found = info.context.services.plans.get(key)
        return cls.of(found) if found else None


@strawberry.type(description="A feature of the organization's plan, and how much of it is used.")
class Entitlement:
    feature: str = strawberry.field(description="The feature's key (see `PlanFeature.key`).")
    enabled: bool = strawberry.field(description="Whether the plan grants it.")
    limit: int | None = strawberry.field(
        description="Null: unlimited (or not counted). For a feature counted by a meter, the"
        " units the plan grants this month (`PlanMeter.includedPerMonth`)."
    )
    used: int | None = strawberry.field(
        description="This month's use (UTC) for a feature counted by a meter, else null."
    )


@strawberry.type(description="The card the subscription is paid with.")
class PaymentMethod:
    brand: str | None = strawberry.field(
        description="The card's brand (`visa`); null when unknown."
    )
    last4: str | None = strawberry.field(description="The card number's last four digits.")


@strawberry.federation.type(
    keys=["id"], name="PlanSubscription", description="An organization's Stripe subscription."
)
class Subscription:
    id: strawberry.ID = strawberry.field(description="Stripe's subscription id (`sub_...`).")
    status: BillingStatus = strawberry.field(description="Where it stands.")
    plan: Plan = strawberry.field(description="The plan subscribed to.")
    current_period_start: datetime | None = strawberry.field(
        description="When the current paid period began; null when Stripe gave none."
    )
    current_period_end: datetime | None = strawberry.field(
        description="When the paid period ends (and renews); null when Stripe gave none."
    )
    cancel_at_period_end: bool = strawberry.field(
        description="Whether it ends then instead of renewing."
    )
    row: strawberry.Private[models.Subscription]

    @classmethod
    def of(cls, subscription: models.Subscription, plan: PlanTerms) -> Subscription:
        return cls(
            id=strawberry.ID(subscription.id),
            status=BillingStatus(subscription.status),
            plan=Plan.of(plan),
            current_period_start=subscription.current_period_start,
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            row=subscription,
        )

    @strawberry.field(
        description="Use of `meter` on the days `from` to `to` (both included, UTC, at most 366)"
        " scoped to this subscription: only the hours from the one it was made in up to the one"
        " it ended in, against its plan's units of each month they touch."
    )
    async def usage(
        self,
        info: Info,
        meter: Annotated[str, strawberry.argument(description="A plan meter: `api_requests`.")],
        from_: Annotated[date, strawberry.argument(name="from", description="The first day.")],
        to: Annotated[date, strawberry.argument(description="The last day.")],
    ) -> Usage:
        ctx = info.context
        return await _usage(ctx.services.subscription_usage(ctx.caller, self.row, meter, from_, to))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Subscription | None:
        ctx = info.context
        found = await loader(
            ctx, "subscriptions", lambda ids: ctx.services.subscriptions(ctx.caller, ids)
        ).load(str(id))
        return _subscription(info, found)


def _subscription(info: Info, found: models.Subscription | None) -> Subscription | None:
    if found is None:
        return None
    plans = info.context.services.plans
    return Subscription.of(found, plans.get(found.plan_key) or plans.free)


@strawberry.type(description="One line of an invoice.")
class InvoiceLine:
    description: str = strawberry.field(description="What the line charges or credits.")
    amount_cents: int = strawberry.field(
        description="In the currency's smallest unit (cents); negative for a credit."
    )
    quantity: int | None = strawberry.field(
        description="Units charged; null when Stripe gave none."
    )
    proration: bool = strawberry.field(
        description="Whether it prorates a plan change over part of a period."
    )
    period_start: datetime | None = strawberry.field(
        description="The start of the period it charges for; null when Stripe gave none."
    )
    period_end: datetime | None = strawberry.field(
        description="The end of the period it charges for; null when Stripe gave none."
    )

    @classmethod
    def of(cls, line: dict[str, Any]) -> InvoiceLine:
        return cls(
            description=line["description"],
            amount_cents=line["amount_cents"],
            quantity=line["quantity"],
            proration=line["proration"],
            period_start=_moment(line["period_start"]),
            period_end=_moment(line["period_end"]),
        )


def _moment(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


@strawberry.federation.type(
    keys=["id"], description="A Stripe invoice of the organization; readable with `billing:read`."
)
class Invoice:
    id: strawberry.ID = strawberry.field(description="Stripe's invoice id (`in_...`).")
    number: str | None = strawberry.field(
        description="The number printed on it; its id while Stripe gave none."
    )
    status: str = strawberry.field(
        description="Stripe's status: `draft`, `open`, `paid`, `uncollectible` or `void`."
    )
    total_cents: int = strawberry.field(
        description="The total, in the currency's smallest unit (cents)."
    )
    currency: str = strawberry.field(description="ISO 4217 code, lower case (`usd`).")
    hosted_url: str | None = strawberry.field(
        description="Stripe's page to view and pay it; null when Stripe offers none."
    )
    pdf_url: str | None = strawberry.field(description="Its PDF; null when Stripe offers none.")
    period_start: datetime | None = strawberry.field(
        description="The start of the period it bills; null when Stripe gave none."
    )
    period_end: datetime | None = strawberry.field(
        description="The end of the period it bills; null when Stripe gave none."
    )
    created_at: datetime = strawberry.field(description="When Stripe created it.")
    lines: list[InvoiceLine] = strawberry.field(
        description="Its lines, as Stripe's newest event of it showed them (at most 100)."
    )

    @classmethod
    def of(cls, invoice: models.Invoice) -> Invoice:
        return cls(
            id=strawberry.ID(invoice.id),
            number=invoice.number,
            status=invoice.status,
            total_cents=invoice.total_cents,
            currency=invoice.currency,
            hosted_url=invoice.hosted_url,
            pdf_url=invoice.pdf_url,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            created_at=invoice.created,
            lines=[InvoiceLine.of(line) for line in invoice.lines],
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Invoice | None:
        ctx = info.context
        found = await loader(
            ctx, "invoices", lambda ids: ctx.services.invoices_by_id(ctx.caller, ids)
        ).load(str(id))
        return cls.of(found) if found else None


@strawberry.type(description="An invoice and its cursor.")
class InvoiceEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` for the invoices after it.")
    node: Invoice = strawberry.field(description="The invoice.")


@strawberry.type(description="A page of invoices, newest first.")
class InvoiceConnection:
    edges: list[InvoiceEdge] = strawberry.field(description="The invoices of this page.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows.")
    total_count: int = strawberry.field(description="The organization's invoices, all pages.")


@strawberry.type(description="One line of a previewed invoice.")
class PreviewLine:
    description: str = strawberry.field(description="What the line charges or credits.")
    amount_cents: int = strawberry.field(
        description="In the currency's smallest unit (cents); negative for a credit."
    )
    proration: bool = strawberry.field(
        description="Whether it is a proration for the unused or new part of the period."
    )


@strawberry.type(description="What an organization used of one meter in a range of days.")
class Usage:
    total: int | None = strawberry.field(
        default=None, description="Units used, this hour's not yet flushed ones included."
    )
    included: int | None = strawberry.field(
        default=None,
        description="Units the current plan grants over the calendar months the range touches"
        " (each month's `includedPerMonth`, a partly covered month whole).",
    )
    overage: int | None = strawberry.field(
        default=None,
        description="Units used beyond each month's granted ones, summed over the months (a"
        " month's unused units never offset another's overage).",
    )
    errors: list[BillingUserError] = strawberry.field(
        default_factory=list, description="Why the range or meter was refused (`INVALID_INPUT`)."
    )


def _problems(exc: Rejected) -> list[BillingUserError]:
    return [BillingUserError(code=p.code, message=p.message, field=p.field) for p in exc.problems]


async def _usage(found: Awaitable[MeterUsage]) -> Usage:
    try:
        used = await found
    except Rejected as exc:
        return Usage(errors=_problems(exc))
    return Usage(total=used.total, included=used.included, overage=used.overage)


@strawberry.type(description="What a plan change now would invoice, prorations included.")
class PlanChangePreview:
    amount_due_now_cents: int | None = strawberry.field(
        default=None,
        description="What would be charged now, in cents; null when `errors` is not empty.",
    )
    lines: list[PreviewLine] = strawberry.field(
        default_factory=list, description="The lines of the invoice."
    )
    errors: list[BillingUserError] = strawberry.field(
        default_factory=list,
        description="Why no preview: `NOT_FOUND`, `PLAN_NOT_FOUND`, `SAME_PLAN`,"
        " `NO_SUBSCRIPTION`, `BILLING_PROVIDER_UNAVAILABLE`; empty otherwise.",
    )


def _account_loader(info: Info) -> Any:
    ctx = info.context
    return loader(ctx, "accounts", lambda ids: ctx.services.accounts(ctx.caller, ids))


def _meters_loader(info: Info) -> Any:
    """This month's use of each meter of the organizations' plans, by organization id."""
    ctx = info.context

    async def load(org_ids: list[UUID]) -> list[list[UsageMeter]]:
        views = await _account_loader(info).load_many(org_ids)
        return [await _meters_of(info, view) if view else [] for view in views]

    return loader(ctx, "meters", load)


async def _meters_of(info: Info, view: AccountView) -> list[UsageMeter]:
    ctx = info.context
    return [
        UsageMeter(
            organization_id=strawberry.ID(str(view.org_id)),
            meter=use.meter,
            included_per_month=use.included,
            used=use.used,
            overage=use.overage,
        )
        for use in await ctx.services.this_months_use(ctx.caller, view)
    ]


@strawberry.federation.type(
    keys=["organizationId meter"],
    description="One meter of the organization's plan this calendar month (UTC); readable with"
    " `billing:read`.",
)
class UsageMeter:
    organization_id: strawberry.ID = strawberry.field(description="The organization's id.")
    meter: str = strawberry.field(description="What is counted (`api_requests`).")
    included_per_month: int = strawberry.field(
        description="Units the plan grants this month (a yearly plan's monthly share)."
    )
    used: int = strawberry.field(
        description="Units used this month, the router's not yet flushed counts included."
    )
    overage: int = strawberry.field(description="Units used beyond the granted ones this month.")

    @classmethod
    async def resolve_reference(
        cls,
        info: Info,
        organizationId: strawberry.ID,  # noqa: N803 - the key's name in representations
        meter: str,
    ) -> UsageMeter | None:
        org_id = uuid_or_none(organizationId)
        found: list[UsageMeter] = await _meters_loader(info).load(org_id) if org_id else []
        return next((m for m in found if m.meter == meter), None)


@strawberry.federation.type(
    keys=["organizationId"], description="An organization's billing; owners change it."
)
class BillingAccount:
    organization_id: strawberry.ID = strawberry.field(description="The organization's id.")
    stripe_customer_id: str | None = strawberry.field(
        description="Its Stripe customer (`cus_...`); null until it first subscribes."
    )
    status: BillingStatus = strawberry.field(description="Its newest subscription's status.")
    plan: Plan = strawberry.field(
        description="The plan in force now: the subscription's while live or in its grace"
        " days, else the free plan."
    )
    subscription: Subscription | None = strawberry.field(
        description="The newest subscription; null when it never subscribed."
    )
    current_period_start: datetime | None = strawberry.field(
        description="The subscription's `currentPeriodStart`; null without one."
    )
    current_period_end: datetime | None = strawberry.field(
        description="The subscription's `currentPeriodEnd`; null without one."
    )
    cancel_at_period_end: bool = strawberry.field(
        description="Whether the subscription ends at its period's end; false without one."
    )
    payment_method: PaymentMethod | None = strawberry.field(
        description="The card on file; null when none."
    )
    spend_cap_cents: int | None = strawberry.field(
        description="The most a month's overage may cost, in cents (see `setSpendCap`); null:"
        " no cap."
    )
    view: strawberry.Private[AccountView]

    @classmethod
    def of(cls, info: Info, view: AccountView) -> BillingAccount:
        account, subscription = view.account, view.subscription
        card = (
            PaymentMethod(brand=account.payment_method_brand, last4=account.payment_method_last4)
            if account and account.payment_method_last4
            else None
        )
        return cls(
            organization_id=strawberry.ID(str(view.org_id)),
            stripe_customer_id=account.stripe_customer_id if account else None,
            status=BillingStatus(view.status),
            plan=Plan.of(view.plan),
            subscription=_subscription(info, subscription),
            current_period_start=subscription.current_period_start if subscription else None,
            current_period_end=subscription.current_period_end if subscription else None,
            cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
            payment_method=card,
            spend_cap_cents=view.spend_cap_cents,
            view=view,
        )

    @classmethod
    async def resolve_reference(
        cls,
        info: Info,
        organizationId: strawberry.ID,  # noqa: N803 - the key's name in representations
    ) -> BillingAccount | None:
        org_id = uuid_or_none(organizationId)
        view = await _account_loader(info).load(org_id) if org_id else None
        return cls.of(info, view) if view else None

    @strawberry.field(description="This calendar month's use of each meter of the plan.")
    async def meters(self, info: Info) -> list[UsageMeter]:
        found: list[UsageMeter] = await _meters_loader(info).load(self.view.org_id)
        return found

    @strawberry.field(description="The invoice of changing to `planKey` now (nothing changes).")
    async def preview_plan_change(
        self,
        info: Info,
        plan_key: Annotated[str, strawberry.argument(description="The plan to change to.")],
    ) -> PlanChangePreview:
        ctx = info.context
        try:
            preview = await ctx.services.preview_plan_change(
                ctx.caller, UUID(self.organization_id), plan_key
            )
        except Rejected as exc:
            return PlanChangePreview(errors=_problems(exc))
        return PlanChangePreview(
            amount_due_now_cents=preview.amount_due_cents,
            lines=[
                PreviewLine(
                    description=line.description,
                    amount_cents=line.amount_cents,
                    proration=line.proration,
                )
                for line in preview.lines
            ],
        )

    @strawberry.field(
        description="Use of `meter` on the days `from` to `to` (both included, UTC, at most 366)."
    )
    async def usage(
        self,
        info: Info,
        meter: Annotated[str, strawberry.argument(description="A plan meter: `api_requests`.")],
        from_: Annotated[date, strawberry.argument(name="from", description="The first day.")],
        to: Annotated[date, strawberry.argument(description="The last day.")],
    ) -> Usage:
        ctx = info.context
        return await _usage(ctx.services.usage(ctx.caller, self.view, meter, from_, to))

    @strawberry.field(
        description="Newest first; empty without `billing:read`. A bad `first` or `after` is a"
        " GraphQL error `INVALID_INPUT`."
    )
    async def invoices(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 10,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `cursor` to continue after; null: from the start."
            ),
        ] = None,
    ) -> InvoiceConnection:
        ctx = info.context
        try:
            found = await ctx.services.invoices(
                ctx.caller, UUID(self.organization_id), first, after
            )
        except Rejected as exc:
            problem = exc.problems[0]
            raise GraphQLError(problem.message, extensions={"code": problem.code.value}) from None
        edges = [
            InvoiceEdge(cursor=ctx.services.cursor(i), node=Invoice.of(i)) for i in found.page.items
        ]
        return InvoiceConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=found.page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=found.total,
        )


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id)

    @strawberry.federation.field(
        override="tenancy", description="The plan the organization is on now (its key)."
    )
    async def plan(self, info: Info) -> str:
        view = await self._view(info)
        return view.plan.key if view else info.context.services.plans.free.key

    async def _view(self, info: Info) -> AccountView | None:
        org_id = uuid_or_none(self.id)
        found: AccountView | None = await _account_loader(info).load(org_id) if org_id else None
        return found

    @strawberry.field(description="Null unless you belong to the organization.")
    async def billing(self, info: Info) -> BillingAccount | None:
        view = await self._view(info)
        return BillingAccount.of(info, view) if view else None

    @strawberry.field(description="What the plan grants; empty unless you belong to it.")
    async def entitlements(self, info: Info) -> list[Entitlement]:
        view = await self._view(info)
        if view is None:
            return []
        used = await info.context.services.used(info.context.caller, view)
        granted = [
            Entitlement(feature=f.key, enabled=f.enabled, limit=f.limit, used=used.get(f.key))
            for f in view.plan.features
        ]
        capped = view.capped_requests
        if capped is not None:
            used_requests = used.get(REQUESTS_PER_MONTH)
            cap = Entitlement(
                feature=REQUESTS_SPEND_CAP, enabled=True, limit=capped, used=used_requests
            )
            granted.append(cap)
        return granted


@strawberry.type(description="The result of a mutation that changes a subscription.")
class SubscriptionPayload:
    subscription: Subscription | None = strawberry.field(
        default=None, description="The subscription as changed; null when `errors` is not empty."
    )
    errors: list[BillingUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `setSpendCap`.")
class SpendCapPayload:
    spend_cap_cents: int | None = strawberry.field(
        default=None, description="The cap now in force, in cents; null: none (or `errors`)."
    )
    errors: list[BillingUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `createBillingPortalSession`.")
class BillingPortalSessionPayload:
    url: str | None = strawberry.field(
        default=None,
        description="The portal page to send the owner to; short-lived. Null when `errors` is"
        " not empty.",
    )
    errors: list[BillingUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="One meter of a draft plan.")
class DraftMeterInput:
    meter: str = strawberry.field(description="A plan meter: `api_requests`, `tickets`, ...")
    included: int = strawberry.field(description="Units included each month.")
    overage_cents_per_unit: Decimal = strawberry.field(
        default=Decimal(0),
        description="What each unit beyond the included ones costs, in cents (to 6 decimals).",
    )


@strawberry.input(description="Plan terms to try on an organization's real use.")
class DraftPlanInput:
    price_cents: int = strawberry.field(description="The monthly price, in cents.")
    meters: list[DraftMeterInput] = strawberry.field(
        description="Its meters; a meter it leaves out costs nothing."
    )


@strawberry.type(description="One line of a simulated invoice.")
class SimulatedLine:
    key: str = strawberry.field(description="`plan` for the plan's price, else the meter's key.")
    description: str = strawberry.field(description="What the line charges for.")
    quantity: int = strawberry.field(
        description="Months of the plan, or units used beyond the included ones."
    )
    amount_cents: int = strawberry.field(description="Its amount, in cents.")


@strawberry.type(description="An invoice computed from the ledger, not one Stripe issued.")
class SimulatedInvoice:
    total_cents: int = strawberry.field(description="The sum of the lines, in cents.")
    lines: list[SimulatedLine] = strawberry.field(description="The plan's line, then meters.")

    @classmethod
    def of(cls, found: simulation.SimulatedInvoice) -> SimulatedInvoice:
        lines = [
            SimulatedLine(
                key=line.key,
                description=line.description,
                quantity=line.quantity,
                amount_cents=line.amount_cents,
            )
            for line in found.lines
        ]
        return cls(total_cents=found.total_cents, lines=lines)


@strawberry.type(description="What one line costs on the current plan and on the draft.")
class SimulatedLineDiff:
    key: str = strawberry.field(description="`plan`, or a meter's key.")
    current_cents: int = strawberry.field(description="On the current plan, in cents.")
    draft_cents: int = strawberry.field(description="On the draft, in cents.")
    delta_cents: int = strawberry.field(description="Draft minus current, in cents.")


@strawberry.type(description="The result of `simulatePlan`.")
class PlanSimulation:
    current: SimulatedInvoice | None = strawberry.field(
        default=None, description="The current plan's invoice; null when `errors` is not empty."
    )
    draft: SimulatedInvoice | None = strawberry.field(
        default=None, description="The draft's invoice; null when `errors` is not empty."
    )
    diff: list[SimulatedLineDiff] = strawberry.field(
        default_factory=list, description="Each line of either invoice, the plan's first."
    )
    errors: list[BillingUserError] = strawberry.field(
        default_factory=list,
        description="Why no simulation: `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`; empty"
        " otherwise.",
    )


@strawberry.input(description="A paid plan to buy.")
class StartSubscriptionInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    plan_key: str = strawberry.field(description="A paid plan's key (see `plans`).")
    payment_method_id: str | None = strawberry.field(
        default=None,
        description="A Stripe payment method (Stripe.js, or `pm_card_visa` in tests); optional"
        " for a plan with trial days (without one, the trial's end returns the free plan).",
    )


@strawberry.input(description="Another paid plan for a live subscription.")
class ChangePlanInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    plan_key: str = strawberry.field(
        description="A paid plan's key other than the current one (to go free, cancel)."
    )


@strawberry.input(description="Which subscription to cancel, and when.")
class CancelSubscriptionInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    at_period_end: bool = strawberry.field(
        default=True, description="Keep the plan until the period ends (else stop now)."
    )


@strawberry.type(description=QUERY)
class Query:
    @strawberry.field(description="Every plan, free first.")
    def plans(self, info: Info) -> list[Plan]:
        return [Plan.of(p) for p in info.context.services.plans.plans]

    @strawberry.federation.field(
        requires_scopes=[["billing:write"]],
        description="Owners only (it tries prices on the organization): the organization's"
        " ledger of the days `from` to `to` (UTC, at most 366) invoiced on its current plan and"
        " on `draftPlan`, month by month (each month the range touches counts whole: its price"
        " and included units), and the difference line by line. Nothing changes.",
    )
    async def simulate_plan(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        draft_plan: Annotated[DraftPlanInput, strawberry.argument(description="The terms.")],
        from_: Annotated[date, strawberry.argument(name="from", description="The first day.")],
        to: Annotated[date, strawberry.argument(description="The last day.")],
    ) -> PlanSimulation:
        ctx = info.context
        draft = DraftPlan(
            price_cents=draft_plan.price_cents,
            meters=[
                DraftMeter(m.meter, m.included, m.overage_cents_per_unit) for m in draft_plan.meters
            ],
        )
        try:
            found = await ctx.services.simulate_plan(
                ctx.caller, identifier(organization_id, "organizationId"), draft, from_, to
            )
        except Rejected as exc:
            return PlanSimulation(errors=_problems(exc))
        return PlanSimulation(
            current=SimulatedInvoice.of(found.current),
            draft=SimulatedInvoice.of(found.draft),
            diff=[
                SimulatedLineDiff(
                    key=d.key,
                    current_cents=d.current_cents,
                    draft_cents=d.draft_cents,
                    delta_cents=d.delta_cents,
                )
                for d in found.diff
            ],
        )


def _subscribed(info: Info, subscription: models.Subscription) -> SubscriptionPayload:
    return SubscriptionPayload(subscription=_subscription(info, subscription))


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: buy a paid plan with a payment method. Errors:"
        " `INVALID_INPUT` (the free plan), `NOT_FOUND`, `FORBIDDEN`, `PLAN_NOT_FOUND`,"
        " `NO_PAYMENT_METHOD`, `ALREADY_SUBSCRIBED`, `PAYMENT_FAILED`,"
        " `BILLING_PROVIDER_UNAVAILABLE`.",
    )
    @rejections_as(SubscriptionPayload)
    async def start_subscription(
        self,
        info: Info,
        input: Annotated[StartSubscriptionInput, strawberry.argument(description="What to buy.")],
    ) -> SubscriptionPayload:
        ctx = info.context
        started = await ctx.services.start_subscription(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.plan_key,
            input.payment_method_id,
        )
        return _subscribed(info, started)

    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: move to another paid plan, prorated. Errors: `INVALID_INPUT`"
        " (the free plan), `NOT_FOUND`, `FORBIDDEN`, `PLAN_NOT_FOUND`, `NO_SUBSCRIPTION`,"
        " `SAME_PLAN`, `PAYMENT_FAILED`, `BILLING_PROVIDER_UNAVAILABLE`.",
    )
    @rejections_as(SubscriptionPayload)
    async def change_plan(
        self,
        info: Info,
        input: Annotated[ChangePlanInput, strawberry.argument(description="The new plan.")],
    ) -> SubscriptionPayload:
        ctx = info.context
        changed = await ctx.services.change_plan(
            ctx.caller, identifier(input.organization_id, "organizationId"), input.plan_key
        )
        return _subscribed(info, changed)

    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: back to the free plan, now or at period end. Errors:"
        " `NOT_FOUND`, `FORBIDDEN`, `NO_SUBSCRIPTION`, `BILLING_PROVIDER_UNAVAILABLE`.",
    )
    @rejections_as(SubscriptionPayload)
    async def cancel_subscription(
        self,
        info: Info,
        input: Annotated[
            CancelSubscriptionInput, strawberry.argument(description="What to cancel, when.")
        ],
    ) -> SubscriptionPayload:
        ctx = info.context
        cancelled = await ctx.services.cancel_subscription(
            ctx.caller, identifier(input.organization_id, "organizationId"), input.at_period_end
        )
        return _subscribed(info, cancelled)

    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: cap what a month's overage may cost (null: no cap). Requests"
        " are the only use a plan may charge beyond its included units (tickets, jobs and"
        " notifications past theirs cost nothing, and only spend alerts tell of them), so the"
        " cap holds all overage. Once this month's requests would cost more, the router refuses"
        " the organization's requests with `SPEND_CAP_REACHED` (HTTP 429) until the month ends"
        " or the cap rises; the entitlement `api_requests_spend_cap` says at how many requests."
        " On a plan whose overage is free the cap limits nothing. Errors: `INVALID_INPUT`,"
        " `NOT_FOUND`, `FORBIDDEN`.",
    )
    @rejections_as(SpendCapPayload)
    async def set_spend_cap(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        amount_cents: Annotated[
            int | None,
            strawberry.argument(description="The cap in cents, 0 or more; null removes it."),
        ],
    ) -> SpendCapPayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        await ctx.services.set_spend_cap(ctx.caller, org_id, amount_cents)
        return SpendCapPayload(spend_cap_cents=amount_cents)

    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: a Stripe billing portal page for the organization's customer."
        " Errors: `INVALID_INPUT`, `INVALID_RETURN_URL`, `NOT_FOUND`, `FORBIDDEN`,"
        " `NO_SUBSCRIPTION`, `PORTAL_UNAVAILABLE`, `BILLING_PROVIDER_UNAVAILABLE`.",
    )
    @rejections_as(BillingPortalSessionPayload)
    async def create_billing_portal_session(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        return_url: Annotated[
            str,
            strawberry.argument(
                description="An https address (or one on the platform's own origin), up to 2000"
                " characters, the portal links back to."
            ),
        ],
    ) -> BillingPortalSessionPayload:
        ctx = info.context
        url = await ctx.services.portal_url(
            ctx.caller, identifier(organization_id, "organizationId"), return_url
        )
        return BillingPortalSessionPayload(url=url)


schema = federated_schema(
    Query,
    Mutation,
    types=[Organization, BillingAccount, Subscription, Invoice, Plan, UsageMeter],
)
