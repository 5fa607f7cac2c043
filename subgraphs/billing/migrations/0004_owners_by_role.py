"""Billing no longer keeps the owners to tell: its emails are addressed to the organization's
``owner`` role, which notifications expands from the members tenancy announces.

Revision ID: billing_0004
Revises: billing_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "billing_0004"
down_revision = "billing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("accounts", "contact_ids", schema="billing")


def downgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("contact_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        schema="billing",
    )
