"""Approvals of waiting runs with their single-use links, and schedules; each isolated by its
organization. A link is also visible to the transaction presenting the hash of its token
(``app.token_hash``), and the worker's sweeps read due approvals, schedules and runs to prune
of every organization (``app.sweep``, reading only) to act on each under its own organization.
Runs remember when their checkpoints were pruned.

Revision ID: workers_0003
Revises: workers_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import CURRENT_ORG, isolate, isolate_by_org

revision = "workers_0003"
down_revision = "workers_0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
S = "workers"
TOKEN = "nullif(current_setting('app.token_hash', true), '')"  # noqa: S105 - a setting name
SWEEP = "current_setting('app.sweep', true)"
APPROVAL_STATUSES = "'pending', 'approved', 'rejected', 'expired'"


def _sweepable(table: str) -> str:
    return f"create policy sweep on {S}.{table} for select using ({SWEEP} = '{table}')"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("pruned_at", TS), schema=S)
    op.create_index(
        "jobs_to_prune",
        "jobs",
        ["finished_at"],
        postgresql_where=sa.text("kind = 'workflow' and pruned_at is null"),
        schema=S,
    )
    op.create_table(
        "approvals",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("job_id", ID, sa.ForeignKey(f"{S}.jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("interrupt_id", sa.String(200), nullable=False),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("payload", JSONB),
        sa.Column("roles", JSONB, nullable=False),
        sa.Column("users", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("escalated", sa.Boolean, nullable=False),
        sa.Column("decided_by", ID),
        sa.Column("decided_at", TS),
        sa.Column("decided_via", sa.String(16)),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("job_id", "interrupt_id"),
        sa.CheckConstraint(f"status in ({APPROVAL_STATUSES})"),
        schema=S,
    )
    op.create_index(
        "approvals_pending",
        "approvals",
        ["expires_at"],
        postgresql_where=sa.text("status = 'pending'"),
        schema=S,
    )
    op.create_table(
        "approval_links",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column(
            "approval_id",
            ID,
            sa.ForeignKey(f"{S}.approvals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        schema=S,
    )
    op.create_table(
        "schedules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("input", JSONB, nullable=False),
        sa.Column("created_by", ID),
        sa.Column("next_run_at", TS, nullable=False),
        sa.Column("last_run_at", TS),
        sa.Column("created_at", TS, nullable=False),
        schema=S,
    )
    op.create_index("schedules_due", "schedules", ["next_run_at"], schema=S)
    op.create_index("schedules_of_org", "schedules", ["org_id", "created_at"], schema=S)
    statements = [
        *isolate_by_org(f"{S}.approvals"),
        _sweepable("approvals"),
        *isolate(f"{S}.approval_links", f"org_id = {CURRENT_ORG} or token_hash = {TOKEN}"),
        *isolate_by_org(f"{S}.schedules"),
        _sweepable("schedules"),
        _sweepable("jobs"),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for table in ("schedules", "approval_links", "approvals"):
        op.drop_table(table, schema=S)
    op.execute(f"drop policy sweep on {S}.jobs")
    op.drop_index("jobs_to_prune", table_name="jobs", schema=S)
    op.drop_column("jobs", "pruned_at", schema=S)
