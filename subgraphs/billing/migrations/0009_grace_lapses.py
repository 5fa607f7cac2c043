"""What billing last announced of each organization's plan, so an hourly sweep can announce the
free plan once a failed payment's grace days have run out (nothing else happens at that
moment); the subscriptions and those announcements readable (not writable) by the sweep's
listing (``app.billing_lapses`` = ``on``), never by a tenant's transaction. And the quantity an
unconfirmed meter event covered, so its retry is sent as it was (Stripe dedupes it by its
identifier) and a row's later growth under an identifier of its own.

An organization with no announcement recorded (those before this revision) counts as
announced nothing: the sweep announces it once if it is past due.

Revision ID: billing_0009
Revises: billing_0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "billing_0009"
down_revision = "billing_0008"
branch_labels = None
depends_on = None

LAPSES = "coalesce(current_setting('app.billing_lapses', true), '') = 'on'"


def upgrade() -> None:
    op.create_table(
        "announced_plans",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("plan_key", sa.String(32), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        schema="billing",
    )
    for statement in isolate_by_org("billing.announced_plans"):
        op.execute(statement)
    for table in ("subscriptions", "announced_plans"):
        op.execute(f"create policy lapses_listed on billing.{table} for select using ({LAPSES})")
    op.create_index(
        "ix_subscriptions_past_due",
        "subscriptions",
        ["org_id"],
        schema="billing",
        postgresql_where=sa.text("status = 'past_due'"),
    )
    op.add_column("usage_events", sa.Column("sending_quantity", sa.BigInteger), schema="billing")


def downgrade() -> None:
    op.drop_column("usage_events", "sending_quantity", schema="billing")
    op.drop_index("ix_subscriptions_past_due", "subscriptions", schema="billing")
    op.execute("drop policy lapses_listed on billing.subscriptions")
    op.drop_table("announced_plans", schema="billing")
