"""Teams of agents for automatic assignment, and each agent's availability and capacity.

Revision ID: support_0003
Revises: support_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from subgraphs.kernel.rls import isolate_by_org

revision = "support_0003"
down_revision = "support_0002"
branch_labels = None
depends_on = None

ID = UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "agents",
        sa.Column("available", sa.Boolean, nullable=False, server_default="true"),
        schema="support",
    )
    op.add_column(
        "agents",
        sa.Column("capacity", sa.Integer, nullable=False, server_default="20"),
        schema="support",
    )
    op.create_check_constraint("agents_capacity", "agents", "capacity > 0", schema="support")
    op.create_table(
        "teams",
        sa.Column("id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("org_id", "name"),
        schema="support",
    )
    op.create_table(
        "team_members",
        sa.Column(
            "team_id", ID, sa.ForeignKey("support.teams.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("user_id", ID, primary_key=True),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("last_assigned_at", TS),
        schema="support",
    )
    op.create_foreign_key(
        "tickets_team",
        "tickets",
        "teams",
        ["team_id"],
        ["id"],
        source_schema="support",
        referent_schema="support",
        ondelete="SET NULL",
    )
    for table in ("teams", "team_members"):
        for statement in isolate_by_org(f"support.{table}"):
            op.execute(statement)


def downgrade() -> None:
    op.drop_constraint("tickets_team", "tickets", schema="support")
    op.drop_table("team_members", schema="support")
    op.drop_table("teams", schema="support")
    op.drop_column("agents", "capacity", schema="support")
    op.drop_column("agents", "available", schema="support")
