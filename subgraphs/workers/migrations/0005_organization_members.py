"""Who belongs to each organization and with which role, as tenancy announces it (visible to
that organization): approvals notify role holders and accept members only.

Revision ID: workers_0005
Revises: workers_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "workers_0005"
down_revision = "workers_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_members",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("roles", JSONB, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="workers",
    )
    for statement in isolate_by_org("workers.organization_members"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_members", schema="workers")
