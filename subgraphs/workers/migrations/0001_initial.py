"""Jobs of organizations, isolated by row security.

Revision ID: workers_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "workers_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
S = "workers"
STATUSES = "'queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'timed_out'"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("created_by", ID),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("concurrency_key", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("result", JSONB),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("logs", JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.UniqueConstraint("org_id", "idempotency_key"),
        sa.CheckConstraint(f"status in ({STATUSES})"),
        sa.CheckConstraint("progress between 0 and 1"),
        schema=S,
    )
    op.create_index(
        "jobs_of_org", "jobs", ["org_id", sa.text("created_at desc"), sa.text("id desc")], schema=S
    )
    for statement in isolate_by_org(f"{S}.jobs"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("jobs", schema=S)
