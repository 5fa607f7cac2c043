"""API keys and their daily usage, isolated by organization with row security.

A key is also visible, whatever the organization, to the transaction that presents the hash of
one of its secrets (``app.key_hash``): that is how a secret is verified before its organization
is known.

Revision ID: keys_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from subgraphs.kernel.rls import CURRENT_ORG, isolate, isolate_by_org

revision = "keys_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
KEY_HASH = "nullif(current_setting('app.key_hash', true), '')"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("previous_secret_hash", sa.String(64), unique=True),
        sa.Column("previous_valid_until", TS),
        sa.Column("scopes", ARRAY(sa.String(64)), nullable=False),
        sa.Column("rate_limit", sa.Integer, nullable=False),
        sa.Column("rate_window_seconds", sa.Integer, nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("last_used_at", TS),
        sa.Column("revoked_at", TS),
        sa.CheckConstraint("rate_limit > 0 and rate_window_seconds > 0"),
        schema="keys",
    )
    op.create_table(
        "usage_days",
        sa.Column(
            "key_id", ID, sa.ForeignKey("keys.api_keys.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        schema="keys",
    )
    by_hash = f"secret_hash = {KEY_HASH} or previous_secret_hash = {KEY_HASH}"
    for statement in (
        *isolate(
            "keys.api_keys", f"org_id = {CURRENT_ORG} or {by_hash}", check=f"org_id = {CURRENT_ORG}"
        ),
        *isolate_by_org("keys.usage_days"),
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("usage_days", "api_keys"):
        op.drop_table(table, schema="keys")
