"""Billing accounts, subscriptions, invoices and received Stripe events, under row security.

An account is also visible to the transaction that names its Stripe customer
(``app.stripe_customer``): that is how the worker learns which organization an event is for.
Webhook events are visible only to the transaction that receives or applies them
(``app.billing_events`` = ``on``), never to a tenant's.

Revision ID: billing_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import CURRENT_ORG, isolate, isolate_by_org

revision = "billing_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
CUSTOMER = "nullif(current_setting('app.stripe_customer', true), '')"
EVENTS = "coalesce(current_setting('app.billing_events', true), '') = 'on'"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("stripe_customer_id", sa.String(255), nullable=False, unique=True),
        sa.Column("payment_method_brand", sa.String(32)),
        sa.Column("payment_method_last4", sa.String(4)),
        sa.Column("created_at", TS, nullable=False),
        schema="billing",
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("org_id", ID, nullable=False, index=True),
        sa.Column("plan_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("item_id", sa.String(255)),
        sa.Column("current_period_end", TS),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("past_due_since", TS),
        sa.Column("state_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("status in ('none', 'trialing', 'active', 'past_due', 'canceled')"),
        schema="billing",
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("number", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("hosted_url", sa.Text),
        sa.Column("pdf_url", sa.Text),
        sa.Column("period_start", TS),
        sa.Column("period_end", TS),
        sa.Column("created", TS, nullable=False),
        sa.Column("state_at", sa.BigInteger, nullable=False),
        sa.Index("ix_invoices_org_created", "org_id", "created"),
        schema="billing",
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("org_id", ID),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("applied_at", TS),
        schema="billing",
    )
    op.create_index(
        "ix_webhook_events_pending",
        "webhook_events",
        ["received_at"],
        schema="billing",
        postgresql_where=sa.text("applied_at is null"),
    )
    for statement in (
        *isolate(
            "billing.accounts",
            f"org_id = {CURRENT_ORG} or stripe_customer_id = {CUSTOMER}",
            check=f"org_id = {CURRENT_ORG}",
        ),
        *isolate_by_org("billing.subscriptions"),
        *isolate_by_org("billing.invoices"),
        *isolate("billing.webhook_events", EVENTS),
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("webhook_events", "invoices", "subscriptions", "accounts"):
        op.drop_table(table, schema="billing")
