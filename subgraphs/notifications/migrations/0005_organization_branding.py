"""Each organization's email branding, as themes announces it on publication (visible to that
organization).

Revision ID: notifications_0005
Revises: notifications_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "notifications_0005"
down_revision = "notifications_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_branding",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("colors", JSONB, nullable=False),
        sa.Column("logo_url", sa.String(2000), nullable=True),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("white_label", sa.Boolean, nullable=False),
        schema="notifications",
    )
    for statement in isolate_by_org("notifications.organization_branding"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_branding", schema="notifications")
