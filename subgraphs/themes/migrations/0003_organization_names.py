"""The organization's name beside its slug, as tenancy announces both: the footer name of its
emails (one announced before has none, and its emails keep the slug until tenancy announces it
again).

Revision ID: themes_0003
Revises: themes_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "themes_0003"
down_revision = "themes_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "organization_slugs", sa.Column("name", sa.String(100), nullable=True), schema="themes"
    )


def downgrade() -> None:
    op.drop_column("organization_slugs", "name", schema="themes")
