"""The usage ledger and its hourly sums, under row security like every billing table, and the
owners an account tells about a failed payment.

The sums are a table written in the ledger's own transaction rather than a materialized view:
PostgreSQL has no row security on materialized views, and a view is refreshed whole, so it
would lag the ledger and cost more the longer the ledger grows.

Revision ID: billing_0002
Revises: billing_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "billing_0002"
down_revision = "billing_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("contact_ids", ARRAY(ID), nullable=False, server_default="{}"),
        schema="billing",
    )
    op.create_table(
        "usage_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("meter", sa.String(64), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.CheckConstraint("quantity > 0", name="usage_events_quantity_positive"),
        sa.Index("ix_usage_events_org_meter_occurred", "org_id", "meter", "occurred_at"),
        schema="billing",
    )
    op.create_table(
        "usage_hours",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("meter", sa.String(64), primary_key=True),
        sa.Column("hour", TS, primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        schema="billing",
    )
    for statement in (
        *isolate_by_org("billing.usage_events"),
        *isolate_by_org("billing.usage_hours"),
    ):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("usage_hours", schema="billing")
    op.drop_table("usage_events", schema="billing")
    op.drop_column("accounts", "contact_ids", schema="billing")
