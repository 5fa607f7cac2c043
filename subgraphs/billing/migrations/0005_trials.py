"""Trials started without a card: once such a trial ends unpaid, the plan has no grace days.

Revision ID: billing_0005
Revises: billing_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0005"
down_revision = "billing_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("without_card", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="billing",
    )


def downgrade() -> None:
    op.drop_column("subscriptions", "without_card", schema="billing")
