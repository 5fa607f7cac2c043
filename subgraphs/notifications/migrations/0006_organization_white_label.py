"""Whether each organization's plan grants white-label emails, as billing announces it on a plan
change (visible to that organization).

Revision ID: notifications_0006
Revises: notifications_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "notifications_0006"
down_revision = "notifications_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_white_label",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("white_label", sa.Boolean, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="notifications",
    )
    for statement in isolate_by_org("notifications.organization_white_label"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_white_label", schema="notifications")
