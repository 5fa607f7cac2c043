"""Drafts, versions, assets and organization slugs, isolated by organization with row security.

A slug row is also visible to the transaction that asks for that slug (``app.slug``): that is
how ``themeBySlug`` finds an organization before it knows which one.

Revision ID: themes_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import CURRENT_ORG, isolate, isolate_by_org

revision = "themes_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
SLUG = "nullif(current_setting('app.slug', true), '')"


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("tokens", JSONB, nullable=False),
        sa.Column("custom_css", sa.Text, nullable=False),
        sa.Column("scoped_css", sa.Text, nullable=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("updated_by", ID),
        sa.Column("updated_at", TS, nullable=False),
        schema="themes",
    )
    op.create_table(
        "versions",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("tokens", JSONB, nullable=False),
        sa.Column("custom_css", sa.Text, nullable=False),
        sa.Column("scoped_css", sa.Text, nullable=False),
        sa.Column("css", sa.Text, nullable=False),
        sa.Column("css_hash", sa.String(64), nullable=False, index=True),
        sa.Column("accepted_low_contrast", sa.Boolean, nullable=False),
        sa.Column("rolled_back_from", sa.Integer),
        sa.Column("published_by", ID),
        sa.Column("published_at", TS, nullable=False),
        sa.CheckConstraint("version > 0"),
        schema="themes",
    )
    op.create_table(
        "assets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("created_by", ID),
        sa.Column("created_at", TS, nullable=False),
        schema="themes",
    )
    op.create_table(
        "organization_slugs",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("as_of", TS, nullable=False),
        schema="themes",
    )
    for statement in (
        *isolate_by_org("themes.drafts"),
        *isolate_by_org("themes.versions"),
        *isolate_by_org("themes.assets"),
        *isolate(
            "themes.organization_slugs",
            f"org_id = {CURRENT_ORG} or slug = {SLUG}",
            check=f"org_id = {CURRENT_ORG}",
        ),
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("organization_slugs", "assets", "versions", "drafts"):
        op.drop_table(table, schema="themes")
