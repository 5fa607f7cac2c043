"""The transactional outbox: jobs and announcements written with the change that causes them.

Revision ID: outbox_0003
Revises: outbox_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "outbox_0003"
down_revision = "outbox_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("job_id", sa.String(300)),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind in ('job', 'announcement')", name="messages_kind"),
        schema="outbox",
    )
    op.create_index("messages_created", "messages", ["created_at"], schema="outbox")


def downgrade() -> None:
    op.drop_table("messages", schema="outbox")
