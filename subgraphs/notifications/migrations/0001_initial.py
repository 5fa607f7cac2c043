"""Notifications, deliveries, templates, preferences and contacts, isolated by row security.

A notification (and its deliveries) is visible to its recipient (``app.user_id``); one sent to
an address only (an invitee without an account) to its organization. Templates belong to their
organization; preferences and contacts to their user.

Revision ID: notifications_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from subgraphs.kernel.rls import CURRENT_ORG, CURRENT_USER, isolate, isolate_by_org

revision = "notifications_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
S = "notifications"
RECIPIENT = f"user_id = {CURRENT_USER} or (user_id is null and org_id = {CURRENT_ORG})"
CHANNEL = "channel in ('in_app', 'email', 'sms')"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID),
        sa.Column("user_id", ID),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("template_key", sa.String(64)),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("dedupe_key", sa.String(400), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS),
        sa.CheckConstraint("user_id is not null or org_id is not null"),
        schema=S,
    )
    op.create_index(
        "notifications_history",
        "notifications",
        ["user_id", sa.text("created_at desc"), sa.text("id desc")],
        schema=S,
    )
    op.create_index(
        "notifications_unread",
        "notifications",
        ["user_id"],
        schema=S,
        postgresql_where=sa.text("read_at is null"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "notification_id",
            ID,
            sa.ForeignKey("notifications.notifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("org_id", ID),
        sa.Column("user_id", ID),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(320)),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("html", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.UniqueConstraint("notification_id", "channel"),
        sa.CheckConstraint(CHANNEL),
        sa.CheckConstraint("status in ('queued', 'sent', 'delivered', 'failed', 'read')"),
        schema=S,
    )
    op.create_table(
        "templates",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("html", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("org_id", "key", "channel", "locale"),
        sa.CheckConstraint(CHANNEL),
        schema=S,
    )
    op.create_table(
        "preferences",
        sa.Column("user_id", ID, primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.CheckConstraint(CHANNEL),
        schema=S,
    )
    op.create_table(
        "contacts",
        sa.Column("user_id", ID, primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("quiet_start", sa.Time),
        sa.Column("quiet_end", sa.Time),
        schema=S,
    )
    for statement in (
        *isolate(f"{S}.notifications", RECIPIENT),
        *isolate(f"{S}.deliveries", RECIPIENT),
        *isolate_by_org(f"{S}.templates"),
        *isolate(f"{S}.preferences", f"user_id = {CURRENT_USER}"),
        *isolate(f"{S}.contacts", f"user_id = {CURRENT_USER}"),
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("contacts", "preferences", "templates", "deliveries", "notifications"):
        op.drop_table(table, schema=S)
