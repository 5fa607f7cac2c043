"""Each member's role in the organization, as tenancy announces it with the members, so a
request can be addressed to the holders of a role (``{user_id: role}``; empty until tenancy's
next announcement for that organization).

Revision ID: notifications_0004
Revises: notifications_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "notifications_0004"
down_revision = "notifications_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "organization_members",
        sa.Column("roles", JSONB, nullable=False, server_default="{}"),
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_column("organization_members", "roles", schema="notifications")
