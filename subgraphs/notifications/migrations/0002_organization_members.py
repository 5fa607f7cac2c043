"""Who belongs to each organization, as tenancy announces it (visible to that organization).

Revision ID: notifications_0002
Revises: notifications_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "notifications_0002"
down_revision = "notifications_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_members",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="notifications",
    )
    for statement in isolate_by_org("notifications.organization_members"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_members", schema="notifications")
