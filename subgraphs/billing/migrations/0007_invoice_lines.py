"""The lines of each invoice as Stripe's events show them, the start of a subscription's
current period beside its end, and when billing saw it end (its use is that of its hours).

Revision ID: billing_0007
Revises: billing_0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "billing_0007"
down_revision = "billing_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "invoices",
        sa.Column("lines", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        schema="billing",
    )
    op.add_column(
        "subscriptions",
        sa.Column("current_period_start", sa.DateTime(timezone=True)),
        schema="billing",
    )
    op.add_column(
        "subscriptions", sa.Column("ended_at", sa.DateTime(timezone=True)), schema="billing"
    )


def downgrade() -> None:
    op.drop_column("subscriptions", "ended_at", schema="billing")
    op.drop_column("subscriptions", "current_period_start", schema="billing")
    op.drop_column("invoices", "lines", schema="billing")
