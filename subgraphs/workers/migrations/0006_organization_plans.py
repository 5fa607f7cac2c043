"""What billing last announced of each organization's plan (visible to that organization): how
many of its jobs may run at once (``concurrent_jobs``; a job nobody started for a plan, such as
a schedule's slot or another domain's job, runs under it) and how many days a finished run keeps
its last checkpoint (``job_history_days``); and when each run loses its last checkpoint.

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
        # null: forever
        sa.Column("history_days", sa.Integer),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="workers",
    )
    for statement in isolate_by_org("workers.organization_limits"):
        op.execute(statement)
    for column in ("forget_at", "forgotten_at"):
        op.add_column("jobs", sa.Column(column, sa.DateTime(timezone=True)), schema="workers")
    op.create_index(
        "jobs_to_forget",
        "jobs",
        ["forget_at"],
        schema="workers",
        postgresql_where=sa.text("forget_at is not null and forgotten_at is null"),
    )


def downgrade() -> None:
    op.drop_index("jobs_to_forget", table_name="jobs", schema="workers")
    for column in ("forget_at", "forgotten_at"):
        op.drop_column("jobs", column, schema="workers")
    op.drop_table("organization_limits", schema="workers")
