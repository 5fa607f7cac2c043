"""A job remembers how many of its organization's jobs may run for it to start: its plan's
``concurrent_jobs`` when it was started (null: any number).

Revision ID: workers_0004
Revises: workers_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "workers_0004"
down_revision = "workers_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("concurrency_limit", sa.Integer, server_default="2"), schema="workers"
    )
    op.alter_column("jobs", "concurrency_limit", server_default=None, schema="workers")


def downgrade() -> None:
    op.drop_column("jobs", "concurrency_limit", schema="workers")
