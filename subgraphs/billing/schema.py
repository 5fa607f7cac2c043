"""The billing subgraph's GraphQL schema: plans, an organization's plan (taken over from
tenancy), billing account, entitlements, subscription and invoices, and the billing mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import strawberry
from graphql import GraphQLError

from subgraphs.billing import models
from subgraphs.billing.contract import BillingErrorCode
from subgraphs.billing.plans import Plan as PlanTerms
from subgraphs.billing.service import AccountView, BillingService
from subgraphs.kernel.app import Context
from subgraphs.kernel.errors import Rejected
from subgraphs.kernel.pagination import PageInfo
from subgraphs.kernel.schema import (
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
)
from subgraphs.kernel.validation import identifier, uuid_or_none

Info = strawberry.Info[Context[BillingService], None]
P = TypeVar("P")


@strawberry.enum(name="BillingStatus")
class BillingStatus(enum.Enum):
    NONE = "none"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class BillingUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(BillingErrorCode))


@strawberry.type(description="What a plan grants: on/off (`enabled`) or up to `limit`.")
class PlanFeature:
    key: str
    enabled: bool
    limit: int | None = strawberry.field(description="Null: unlimited (or not a counted feature).")


@strawberry.type(description="A usage meter and the units each period includes.")
class PlanMeter:
    key: str
    included_units: int


@strawberry.federation.type(keys=["key"], description="A plan an organization can be on.")
class Plan:
    key: str
    name: str
    interval: str
    price_cents: int
    currency: str
    trial_days: int
    grace_days: int = strawberry.field(
        description="Days the plan is kept after a failed payment, while Stripe retries."
    )
    features: list[PlanFeature]
    meters: list[PlanMeter]
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
            meters=[PlanMeter(key=m.key, included_units=m.included) for m in plan.meters],
            quota=plan.quota,
        )

    @classmethod
    def resolve_reference(cls, info: Info, key: str) -> Plan | None:
        found = info.context.services.plans.get(key)
        return cls.of(found) if found else None


@strawberry.type(description="A feature of the organization's plan, and how much of it is used.")
class Entitlement:
    feature: str
    enabled: bool
    limit: int | None
    used: int | None = strawberry.field(description="Null until usage is counted.")


@strawberry.type
class PaymentMethod:
    brand: str | None
    last4: str | None


@strawberry.federation.type(
    keys=["id"], name="PlanSubscription", description="An organization's Stripe subscription."
)
class Subscription:
    id: strawberry.ID
    status: BillingStatus
    plan: Plan
    current_period_end: datetime | None
    cancel_at_period_end: bool

    @classmethod
    def of(cls, subscription: models.Subscription, plan: PlanTerms) -> Subscription:
        return cls(
            id=strawberry.ID(subscription.id),
            status=BillingStatus(subscription.status),
            plan=Plan.of(plan),
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
        )

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


@strawberry.federation.type(keys=["id"])
class Invoice:
    id: strawberry.ID
    number: str | None
    status: str
    total_cents: int
    currency: str
    hosted_url: str | None
    pdf_url: str | None
    period_start: datetime | None
    period_end: datetime | None
    created_at: datetime

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
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Invoice | None:
        ctx = info.context
        found = await loader(
            ctx, "invoices", lambda ids: ctx.services.invoices_by_id(ctx.caller, ids)
        ).load(str(id))
        return cls.of(found) if found else None


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: Invoice


@strawberry.type
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class PreviewLine:
    description: str
    amount_cents: int
    proration: bool


@strawberry.type(description="What a plan change now would invoice, prorations included.")
class PlanChangePreview:
    amount_due_now_cents: int | None = None
    lines: list[PreviewLine] = strawberry.field(default_factory=list)
    errors: list[BillingUserError] = strawberry.field(default_factory=list)


def _account_loader(info: Info) -> Any:
    ctx = info.context
    return loader(ctx, "accounts", lambda ids: ctx.services.accounts(ctx.caller, ids))


@strawberry.federation.type(
    keys=["organizationId"], description="An organization's billing; owners change it."
)
class BillingAccount:
    organization_id: strawberry.ID
    status: BillingStatus
    plan: Plan
    subscription: Subscription | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    payment_method: PaymentMethod | None

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
            status=BillingStatus(view.status),
            plan=Plan.of(view.plan),
            subscription=_subscription(info, subscription),
            current_period_end=subscription.current_period_end if subscription else None,
            cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
            payment_method=card,
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

    @strawberry.field(description="The invoice of changing to `planKey` now (nothing changes).")
    async def preview_plan_change(self, info: Info, plan_key: str) -> PlanChangePreview:
        ctx = info.context
        try:
            preview = await ctx.services.preview_plan_change(
                ctx.caller, UUID(self.organization_id), plan_key
            )
        except Rejected as exc:
            errors = [
                BillingUserError(code=p.code, message=p.message, field=p.field)
                for p in exc.problems
            ]
            return PlanChangePreview(errors=errors)
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

    @strawberry.field(description="Newest first.")
    async def invoices(
        self, info: Info, first: int = 10, after: str | None = None
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
        return [
            Entitlement(feature=f.key, enabled=f.enabled, limit=f.limit, used=None)
            for f in view.plan.features
        ]


@strawberry.type
class SubscriptionPayload:
    subscription: Subscription | None = None
    errors: list[BillingUserError] = strawberry.field(default_factory=list)


@strawberry.type
class BillingPortalSessionPayload:
    url: str | None = None
    errors: list[BillingUserError] = strawberry.field(default_factory=list)


@strawberry.input
class StartSubscriptionInput:
    organization_id: strawberry.ID
    plan_key: str
    payment_method_id: str | None = strawberry.field(
        default=None, description="A Stripe payment method (Stripe.js, or `pm_card_visa` in tests)."
    )


@strawberry.input
class ChangePlanInput:
    organization_id: strawberry.ID
    plan_key: str


@strawberry.input
class CancelSubscriptionInput:
    organization_id: strawberry.ID
    at_period_end: bool = strawberry.field(
        default=True, description="Keep the plan until the period ends (else stop now)."
    )


@strawberry.type
class Query:
    @strawberry.field(description="Every plan, free first.")
    def plans(self, info: Info) -> list[Plan]:
        return [Plan.of(p) for p in info.context.services.plans.plans]


def _subscribed(info: Info, subscription: models.Subscription) -> SubscriptionPayload:
    return SubscriptionPayload(subscription=_subscription(info, subscription))


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: buy a paid plan with a payment method.",
    )
    @rejections_as(SubscriptionPayload)
    async def start_subscription(
        self, info: Info, input: StartSubscriptionInput
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
        description="Owners only: move to another paid plan, prorated.",
    )
    @rejections_as(SubscriptionPayload)
    async def change_plan(self, info: Info, input: ChangePlanInput) -> SubscriptionPayload:
        ctx = info.context
        changed = await ctx.services.change_plan(
            ctx.caller, identifier(input.organization_id, "organizationId"), input.plan_key
        )
        return _subscribed(info, changed)

    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: back to the free plan, now or at period end.",
    )
    @rejections_as(SubscriptionPayload)
    async def cancel_subscription(
        self, info: Info, input: CancelSubscriptionInput
    ) -> SubscriptionPayload:
        ctx = info.context
        cancelled = await ctx.services.cancel_subscription(
            ctx.caller, identifier(input.organization_id, "organizationId"), input.at_period_end
        )
        return _subscribed(info, cancelled)

    @strawberry.federation.mutation(
        requires_scopes=[["billing:write"]],
        description="Owners only: a Stripe billing portal page for the organization's customer.",
    )
    @rejections_as(BillingPortalSessionPayload)
    async def create_billing_portal_session(
        self, info: Info, organization_id: strawberry.ID, return_url: str
    ) -> BillingPortalSessionPayload:
        ctx = info.context
        url = await ctx.services.portal_url(
            ctx.caller, identifier(organization_id, "organizationId"), return_url
        )
        return BillingPortalSessionPayload(url=url)


schema = federated_schema(
    Query,
    Mutation,
    types=[Organization, BillingAccount, Subscription, Invoice, Plan],
)
