"""Each message names the role that wrote it, and row security lets a domain's role see only its
own messages: a payload may carry what only its domain and its consumer should read (a
notification's text with a sign-in link, say). The domains' roles get INSERT (staging), SELECT
and DELETE (the flush right after their commit) and UPDATE of ``created_at`` alone (what
``SELECT ... FOR UPDATE`` asks for); the worker's relay role (``vetrai_outbox``) gets SELECT,
that UPDATE and DELETE over every message, and no other table. The grants themselves are
``subgraphs.kernel.outbox.writer_rights`` and ``relay_rights``, run after every migration.

Revision ID: outbox_0004
Revises: outbox_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "outbox_0004"
down_revision = "outbox_0003"
branch_labels = None
depends_on = None

RELAY = "vetrai_outbox"


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column(
            "producer", sa.String(63), nullable=False, server_default=sa.text("current_user")
        ),
        schema="outbox",
    )
    for statement in (
        "alter table outbox.messages enable row level security",
        "alter table outbox.messages force row level security",
        "create policy own_messages on outbox.messages"
        " using (producer = current_user) with check (producer = current_user)",
        # the relay sends and deletes every domain's messages; it writes none
        f"create policy relay on outbox.messages to {RELAY} using (true) with check (false)",
    ):
        op.execute(statement)


def downgrade() -> None:
    op.execute("drop policy relay on outbox.messages")
    op.execute("drop policy own_messages on outbox.messages")
    op.execute("alter table outbox.messages no force row level security")
    op.execute("alter table outbox.messages disable row level security")
    op.drop_column("messages", "producer", schema="outbox")
