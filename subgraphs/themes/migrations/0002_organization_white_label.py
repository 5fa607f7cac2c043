"""Whether each organization's plan grants ``white_label``, as billing announces it on a plan
change: without it, a live theme's custom CSS is withheld (visible to that organization).

Revision ID: themes_0002
Revises: themes_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "themes_0002"
down_revision = "themes_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_white_label",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("white_label", sa.Boolean, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema="themes",
    )
    for statement in isolate_by_org("themes.organization_white_label"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_white_label", schema="themes")
