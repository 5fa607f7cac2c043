"""Workflow runs: a job's pending interrupt, and LangGraph's checkpoint tables (the Postgres
saver's own statements, so its ``setup`` is never needed), isolated by the organization that
prefixes each thread id (``<org-id>:<job-id>``).

Revision ID: workers_0002
Revises: workers_0001
"""

import sqlalchemy as sa
from alembic import op
from langgraph.checkpoint.postgres.base import BasePostgresSaver
from sqlalchemy.dialects.postgresql import JSONB

from subgraphs.kernel.rls import CURRENT_ORG, isolate

revision = "workers_0002"
down_revision = "workers_0001"
branch_labels = None
depends_on = None

S = "workers"
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
THREAD_OF_ORG = f"split_part(thread_id, ':', 1) = ({CURRENT_ORG})::text"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("interrupt", JSONB), schema=S)
    op.execute(f"set local search_path to {S}")
    # Alembic runs in a transaction, where an index cannot be built concurrently.
    for statement in BasePostgresSaver.MIGRATIONS:
        op.execute(statement.replace("CONCURRENTLY ", ""))
    # The saver's setup() would record each statement it ran, by its index.
    versions = range(len(BasePostgresSaver.MIGRATIONS))
    op.execute(
        sa.text(
            "insert into checkpoint_migrations (v) select unnest(cast(:v as int[]))"
        ).bindparams(v=list(versions))
    )
    op.execute("reset search_path")
    for table in TABLES:
        for statement in isolate(f"{S}.{table}", THREAD_OF_ORG):
            op.execute(statement)


def downgrade() -> None:
    for table in (*TABLES, "checkpoint_migrations"):
        op.drop_table(table, schema=S)
    op.drop_column("jobs", "interrupt", schema=S)
