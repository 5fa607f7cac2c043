"""Tables of the billing schema: each organization's account, its Stripe subscriptions and
invoices, the webhook events received from Stripe, the plan last announced of each, and the
usage ledger with its hourly sums."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "billing"}


class BillingAccount(SQLModel, table=True):
    """One per organization, made on its first subscription; its Stripe customer and card."""

    __tablename__ = "accounts"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    stripe_customer_id: str = Field(max_length=255, unique=True)
    payment_method_brand: str | None = Field(default=None, max_length=32)
    payment_method_last4: str | None = Field(default=None, max_length=4)
    created_at: datetime = Field(default_factory=utcnow)


class Subscription(SQLModel, table=True):
    """A Stripe subscription as last applied; ``state_at`` is the Stripe time (epoch seconds)
    of the state stored, so an older event never overwrites a newer state."""

    __tablename__ = "subscriptions"
    __table_args__ = SCHEMA

    id: str = Field(primary_key=True, max_length=255)
    org_id: UUID = Field(index=True)
    plan_key: str = Field(max_length=32)
    status: str = Field(max_length=16)
    item_id: str | None = Field(default=None, max_length=255)  # its one item (the plan's)
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    past_due_since: datetime | None = None
    # A trial started without a card: nothing for Stripe to retry once it ends unpaid.
    without_card: bool = False
    state_at: int = 0
    ended_at: datetime | None = None  # when billing first saw it cancelled
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = SCHEMA

    id: str = Field(primary_key=True, max_length=255)
    org_id: UUID = Field(index=True)
    number: str | None = Field(default=None, max_length=64)
    status: str = Field(default="draft", max_length=16)
    total_cents: int = 0
    currency: str = Field(default="usd", max_length=3)
    hosted_url: str | None = None
    pdf_url: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    created: datetime
    state_at: int = 0
    # Its lines as the newest event showed them (``gateway.InvoiceLine``s).
    lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )


class WebhookEvent(SQLModel, table=True):
    """A Stripe event as received (once per id); ``applied_at`` once the worker applied it."""

    __tablename__ = "webhook_events"
    __table_args__ = SCHEMA

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    created: int
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    org_id: UUID | None = None
    received_at: datetime = Field(default_factory=utcnow)
    applied_at: datetime | None = None


class UsageEvent(SQLModel, table=True):
    """One use of a meter, kept once per ``idempotency_key`` (``router:<org>:<hour>`` for the
    router's hourly request count, ``ticket:<id>`` and the like for other subgraphs')."""

    __tablename__ = "usage_events"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    meter: str = Field(max_length=64)
    quantity: int = Field(sa_column=Column(BigInteger, nullable=False))
    occurred_at: datetime
    idempotency_key: str = Field(max_length=200, unique=True)
    source: str = Field(max_length=32)
    recorded_at: datetime = Field(default_factory=utcnow)
    # What of ``quantity`` Stripe was sent as meter events (a router row grows after a late flush).
    reported_quantity: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # The quantity the send under way covers up to, committed before it is sent: a send whose
    # answer was lost is repeated as it was (same identifier and value, which Stripe dedupes).
    sending_quantity: int | None = Field(default=None, sa_column=Column(BigInteger))


class SpendCap(SQLModel, table=True):
    """The most an organization lets a month's overage cost; none: no cap."""

    __tablename__ = "spend_caps"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class AnnouncedPlan(SQLModel, table=True):
    """The plan last announced for an organization (to routers, themes, notifications and
    workers), so a change nothing announces (grace days running out) is found and told."""

    __tablename__ = "announced_plans"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    plan_key: str = Field(max_length=32)
    announced_at: datetime = Field(default_factory=utcnow)


class UsageHour(SQLModel, table=True):
    """The ledger summed per organization, meter and UTC hour, kept in the transaction that
    writes the ledger, so a range of a year is at most 8 784 rows per meter."""

    __tablename__ = "usage_hours"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    meter: str = Field(primary_key=True, max_length=64)
    hour: datetime = Field(primary_key=True)
    quantity: int = Field(sa_column=Column(BigInteger, nullable=False))
