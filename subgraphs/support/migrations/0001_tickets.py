"""Tickets, comments, custom field definitions, agents, business calendars, SLA policies and
the tickets' event log, each isolated by organization with row security.

Revision ID: support_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "support_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = UUID(as_uuid=True)
TABLES = (
    "ticket_events",
    "comments",
    "tickets",
    "ticket_counters",
    "sla_policies",
    "business_calendars",
    "field_definitions",
    "agents",
)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("org_id", ID, nullable=False)


def _ticket_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "ticket_id", ID, sa.ForeignKey("support.tickets.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", ID, primary_key=True),
        _org(),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("tags", ARRAY(sa.String(50)), nullable=False),
        sa.Column("custom_fields", JSONB, nullable=False),
        sa.Column("requester_id", ID, nullable=False),
        sa.Column("assignee_id", ID),
        sa.Column("team_id", ID),
        sa.Column("merged_into_id", ID, sa.ForeignKey("support.tickets.id")),
        sa.Column("sla_due_at", TS),
        sa.Column("sla_breached_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("org_id", "number"),
        sa.CheckConstraint(
            "status in ('new', 'open', 'pending', 'on_hold', 'resolved', 'closed', 'merged')"
        ),
        sa.CheckConstraint("priority in ('low', 'normal', 'high', 'urgent')"),
        schema="support",
    )
    op.create_index("tickets_requester", "tickets", ["org_id", "requester_id"], schema="support")
    op.create_index("tickets_assignee", "tickets", ["org_id", "assignee_id"], schema="support")
    op.create_index("tickets_tags", "tickets", ["tags"], postgresql_using="gin", schema="support")
    op.create_table(
        "ticket_counters",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
        schema="support",
    )
    op.create_table(
        "comments",
        sa.Column("id", ID, primary_key=True),
        _org(),
        _ticket_fk(),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("internal", sa.Boolean, nullable=False),
        sa.Column("mentions", ARRAY(ID), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Index("comments_of_ticket", "ticket_id", "created_at"),
        schema="support",
    )
    op.create_table(
        "field_definitions",
        sa.Column("id", ID, primary_key=True),
        _org(),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("required", sa.Boolean, nullable=False),
        sa.Column("options", ARRAY(sa.String(100)), nullable=False),
        sa.UniqueConstraint("org_id", "key"),
        sa.CheckConstraint("type in ('text', 'number', 'boolean', 'choice')"),
        schema="support",
    )
    op.create_table(
        "agents",
        sa.Column("org_id", ID, primary_key=True),
        sa.Column("user_id", ID, primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        schema="support",
    )
    op.create_table(
        "business_calendars",
        sa.Column("id", ID, primary_key=True),
        _org(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("weekly_hours", JSONB, nullable=False),
        sa.Column("holidays", ARRAY(sa.Date), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        schema="support",
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", ID, primary_key=True),
        _org(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "calendar_id", ID, sa.ForeignKey("support.business_calendars.id"), nullable=False
        ),
        sa.Column("targets", JSONB, nullable=False),
        sa.Column("priorities", ARRAY(sa.String(16)), nullable=False),
        sa.Column("tags", ARRAY(sa.String(50)), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        schema="support",
    )
    op.create_table(
        "ticket_events",
        sa.Column("id", ID, primary_key=True),
        _org(),
        _ticket_fk(),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Index("events_of_ticket", "ticket_id", "at"),
        schema="support",
    )
    for table in TABLES:
        for statement in isolate_by_org(f"support.{table}"):
            op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table, schema="support")
