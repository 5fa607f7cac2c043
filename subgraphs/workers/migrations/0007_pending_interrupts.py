"""A waiting run waits on every interrupt its parallel branches raised at once, not only the
first: ``jobs.interrupt`` becomes the list ``jobs.interrupts`` (a waiting run's one interrupt
its only element). The answers of a wait are now kept by interrupt id, so a waiting run drops
the answer an earlier wait left in its payload.

Revision ID: workers_0007
Revises: workers_0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "workers_0007"
down_revision = "workers_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs",
        sa.Column("interrupts", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        schema="workers",
    )
    op.alter_column("jobs", "interrupts", server_default=None, schema="workers")
    op.execute(
        "update workers.jobs set interrupts = jsonb_build_array(interrupt)"
        " where interrupt is not null"
    )
    op.execute("update workers.jobs set payload = payload - 'resume' where status = 'waiting'")
    op.drop_column("jobs", "interrupt", schema="workers")


def downgrade() -> None:
    op.add_column("jobs", sa.Column("interrupt", JSONB), schema="workers")
    op.execute("update workers.jobs set interrupt = interrupts -> 0")
    op.drop_column("jobs", "interrupts", schema="workers")
