"""How many jobs of each organization may run at once, as billing last announced its plan's
``concurrent_jobs`` (visible to that organization): a job nobody started for a plan (a schedule's
slot, another domain's job) runs under it.

Revision ID: workers_0006
Revises: workers_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "workers_0006"
down_revision = "workers_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_limits",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        # null: any number
        sa.Column("concurrent_jobs", sa.Integer),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="workers",
    )
    for statement in isolate_by_org("workers.organization_limits"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_limits", schema="workers")
