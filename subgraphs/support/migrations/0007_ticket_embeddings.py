"""Similar tickets by embeddings: one all-MiniLM-L6-v2 vector of title and body per ticket, in
pgvector with an HNSW cosine index, isolated by organization; the full-text index it replaces
is dropped.

Revision ID: support_0007
Revises: support_0006
"""

from alembic import op

from subgraphs.kernel.rls import isolate_by_org

revision = "support_0007"
down_revision = "support_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create extension if not exists vector with schema public")
    op.execute(
        "create table support.ticket_embeddings ("
        " ticket_id uuid primary key references support.tickets (id) on delete cascade,"
        " org_id uuid not null,"
        " embedding vector(384) not null,"
        " created_at timestamp with time zone not null)"
    )
    op.execute("create index ticket_embeddings_of_org on support.ticket_embeddings (org_id)")
    op.execute(
        "create index ticket_embeddings_nearest on support.ticket_embeddings"
        " using hnsw (embedding vector_cosine_ops)"
    )
    for statement in isolate_by_org("support.ticket_embeddings"):
        op.execute(statement)
    op.execute("drop index support.tickets_text")


def downgrade() -> None:
    op.execute(
        "create index tickets_text on support.tickets"
        " using gin (to_tsvector('english', title || ' ' || body))"
    )
    op.execute("drop table support.ticket_embeddings")
