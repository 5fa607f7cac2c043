"""Each organization's optional cap on a month's overage spending, under row security.

Revision ID: billing_0006
Revises: billing_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "billing_0006"
down_revision = "billing_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spend_caps",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name="spend_caps_amount_not_negative"),
        schema="billing",
    )
    for statement in isolate_by_org("billing.spend_caps"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("spend_caps", schema="billing")
