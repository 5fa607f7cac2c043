"""Attachments of tickets and comments, isolated by organization with row security.

Revision ID: support_0002
Revises: support_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "support_0002"
down_revision = "support_0001"
branch_labels = None
depends_on = None

ID = UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("uploader_id", ID, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ticket_id", ID, sa.ForeignKey("support.tickets.id", ondelete="CASCADE")),
        sa.Column("comment_id", ID, sa.ForeignKey("support.comments.id", ondelete="CASCADE")),
        sa.Column("internal", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status in ('requested', 'uploaded')"),
        sa.CheckConstraint("size_bytes > 0"),
        sa.Index("attachments_of_ticket", "ticket_id"),
        sa.Index("attachments_of_comment", "comment_id"),
        schema="support",
    )
    for statement in isolate_by_org("support.attachments"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("attachments", schema="support")
