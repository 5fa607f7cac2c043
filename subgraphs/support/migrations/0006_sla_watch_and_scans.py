"""The SLA watch (when each ticket next has a warning or breach to notify, escalation rules,
team admins, one alert per clock run) and the virus scan state of attachments.

Revision ID: support_0006
Revises: support_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "support_0006"
down_revision = "support_0005"
branch_labels = None
depends_on = None

ID = UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)
# The watch finds due tickets of every organization; it reads their ids, nothing else.
WATCH = "coalesce(current_setting('app.sla_watch', true), '') = 'on'"


def upgrade() -> None:
    op.add_column("tickets", sa.Column("sla_alert_at", TS), schema="support")
    op.create_index(
        "tickets_alert_due",
        "tickets",
        ["sla_alert_at"],
        schema="support",
        postgresql_where=sa.text("sla_alert_at is not null"),
    )
    # tickets of before the watch are looked at once, which sets their next alert
    op.execute(
        "update support.tickets set sla_alert_at = now() where sla_due_at is not null"
        " or (sla_breached_at is not null and status not in ('resolved', 'closed', 'merged'))"
    )
    op.execute(f"create policy sla_watch on support.tickets for select using ({WATCH})")
    op.add_column(
        "team_members",
        sa.Column("admin", sa.Boolean, nullable=False, server_default="false"),
        schema="support",
    )
    op.create_table(
        "escalation_rules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("clock", sa.String(32)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("team_id", ID, sa.ForeignKey("support.teams.id", ondelete="CASCADE")),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("level in ('warning', 'breach')"),
        sa.CheckConstraint("action in ('reassign', 'raise_priority', 'notify_team_admins')"),
        sa.CheckConstraint("action <> 'reassign' or team_id is not null"),
        sa.Index("escalation_rules_of_org", "org_id", "position"),
        schema="support",
    )
    for statement in isolate_by_org("support.escalation_rules"):
        op.execute(statement)
    # two workers never both notify a clock's run
    op.execute(
        "create unique index ticket_alerts on support.ticket_events"
        " (ticket_id, (data->>'clock'), (data->>'level'), (data->>'cycle'))"
        " where kind = 'alert'"
    )
    op.add_column(
        "attachments",
        sa.Column("scan_status", sa.String(16), nullable=False, server_default="unscanned"),
        schema="support",
    )
    op.add_column("attachments", sa.Column("scanned_at", TS), schema="support")
    op.create_check_constraint(
        "attachments_scan_status",
        "attachments",
        "scan_status in ('pending_scan', 'clean', 'infected', 'unscanned')",
        schema="support",
    )


def downgrade() -> None:
    op.drop_constraint("attachments_scan_status", "attachments", schema="support")
    op.drop_column("attachments", "scanned_at", schema="support")
    op.drop_column("attachments", "scan_status", schema="support")
    op.execute("drop index support.ticket_alerts")
    op.drop_table("escalation_rules", schema="support")
    op.drop_column("team_members", "admin", schema="support")
    op.execute("drop policy sla_watch on support.tickets")
    op.drop_index("tickets_alert_due", "tickets", schema="support")
    op.drop_column("tickets", "sla_alert_at", schema="support")
