"""Organizations, memberships, invitations and active organizations, isolated by row security.

A row is visible when it belongs to the caller's organization (``app.org_id``, from the signed
context) or to an organization the caller is a member of (``app.member_orgs``, which the
service derives from the caller's own membership rows, themselves visible by ``app.user_id``).

Revision ID: tenancy_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import CURRENT_ORG, CURRENT_USER, isolate

revision = "tenancy_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
MEMBER_ORGS = "string_to_array(nullif(current_setting('app.member_orgs', true), ''), ',')::uuid[]"
TOKEN = "nullif(current_setting('app.token_hash', true), '')"  # noqa: S105 - a setting name, not a secret


def _org_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "org_id", ID, sa.ForeignKey("tenancy.organizations.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        schema="tenancy",
    )
    op.create_table(
        "memberships",
        sa.Column("id", ID, primary_key=True),
        _org_fk(),
        sa.Column("user_id", ID, nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("org_id", "user_id"),
        sa.CheckConstraint("role in ('owner', 'admin', 'member')"),
        schema="tenancy",
    )
    op.create_table(
        "invitations",
        sa.Column("id", ID, primary_key=True),
        _org_fk(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("accepted_at", TS),
        sa.Column("accepted_by", ID),
        sa.Column("revoked_at", TS),
        sa.CheckConstraint("role in ('owner', 'admin', 'member')"),
        schema="tenancy",
    )
    op.create_table(
        "active_organizations",
        sa.Column("user_id", ID, primary_key=True),
        _org_fk(),
        schema="tenancy",
    )
    member = f"{CURRENT_ORG} or org_id = any({MEMBER_ORGS})"
    for statement in (
        *isolate("tenancy.organizations", f"id = {CURRENT_ORG} or id = any({MEMBER_ORGS})"),
        *isolate("tenancy.memberships", f"org_id = {member} or user_id = {CURRENT_USER}"),
        *isolate("tenancy.invitations", f"org_id = {member} or token_hash = {TOKEN}"),
        *isolate("tenancy.active_organizations", f"user_id = {CURRENT_USER}"),
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("active_organizations", "invitations", "memberships", "organizations"):
        op.drop_table(table, schema="tenancy")
