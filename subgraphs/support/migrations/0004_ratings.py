"""Satisfaction ratings, one survey per resolution, isolated by organization; a survey is also
visible to the transaction presenting the hash of its token (``app.token_hash``).

Revision ID: support_0004
Revises: support_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import CURRENT_ORG, isolate

revision = "support_0004"
down_revision = "support_0003"
branch_labels = None
depends_on = None

ID = UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)
TOKEN = "nullif(current_setting('app.token_hash', true), '')"  # noqa: S105 - a setting name


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column(
            "ticket_id", ID, sa.ForeignKey("support.tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("score", sa.SmallInteger),
        sa.Column("comment", sa.String(1000)),
        sa.Column("rated_at", TS),
        sa.CheckConstraint("score between 1 and 5"),
        schema="support",
    )
    for statement in isolate(
        "support.ratings",
        f"org_id = {CURRENT_ORG} or token_hash = {TOKEN}",
        check=f"org_id = {CURRENT_ORG} or token_hash = {TOKEN}",
    ):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("ratings", schema="support")
