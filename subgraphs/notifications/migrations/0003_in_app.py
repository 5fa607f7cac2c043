"""Mark the notifications shown in the app; the history lists only those.

Revision ID: notifications_0003
Revises: notifications_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "notifications_0003"
down_revision = "notifications_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("in_app", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_column("notifications", "in_app", schema="notifications")
