"""A full-text index over tickets' title and body, for similar tickets.

Revision ID: support_0005
Revises: support_0004
"""

from alembic import op

revision = "support_0005"
down_revision = "support_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "create index tickets_text on support.tickets"
        " using gin (to_tsvector('english', title || ' ' || body))"
    )


def downgrade() -> None:
    op.execute("drop index support.tickets_text")
