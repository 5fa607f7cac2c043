"""What of each use of the ledger was reported to Stripe as meter events, and the accounts
readable (not writable) by the reporting cron's listing of customers (``app.billing_customers``
= ``on``), never by a tenant's transaction.

``reported_quantity`` is the cursor of one row rather than a position in the ledger: the
router's hourly rows grow when late requests of their hour are flushed, and only the growth is
reported again.

Revision ID: billing_0003
Revises: billing_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0003"
down_revision = "billing_0002"
branch_labels = None
depends_on = None

CUSTOMERS = "coalesce(current_setting('app.billing_customers', true), '') = 'on'"


def upgrade() -> None:
    op.add_column(
        "usage_events",
        sa.Column("reported_quantity", sa.BigInteger, nullable=False, server_default="0"),
        schema="billing",
    )
    op.create_index(
        "ix_usage_events_unreported",
        "usage_events",
        ["org_id", "occurred_at"],
        schema="billing",
        postgresql_where=sa.text("reported_quantity < quantity"),
    )
    op.execute(f"create policy customers_listed on billing.accounts for select using ({CUSTOMERS})")


def downgrade() -> None:
    op.execute("drop policy customers_listed on billing.accounts")
    op.drop_index("ix_usage_events_unreported", "usage_events", schema="billing")
    op.drop_column("usage_events", "reported_quantity", schema="billing")
