"""Who belongs to each organization, as tenancy announces it: whom a user may see.

Revision ID: auth_0002
Revises: auth_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_members",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="auth",
    )
    op.create_index(
        "organization_members_users",
        "organization_members",
        ["user_ids"],
        schema="auth",
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_table("organization_members", schema="auth")
