"""Similar tickets by embeddings: one all-MiniLM-L6-v2 vector of title and body per ticket, in
pgvector, isolated by organization; the full-text index it replaces is dropped.

No HNSW index: searches are always within one organization, and pgvector before 0.8 (the
embedded server has 0.6.2) filters an HNSW scan only after taking its ``ef_search`` nearest
rows of the whole table. Measured on 40,000 rows of 200 organizations: a filtered HNSW query
for one organization returned no row at all. Within an organization, found by ``org_id``, the
search is exact: 1.8 ms for 200 tickets.

Revision ID: support_0007
Revises: support_0006
"""

from alembic import op

from subgraphs.kernel.rls import isolate_by_org
from subgraphs.support.contract import EMBED_JOB

revision = "support_0007"
down_revision = "support_0006"
branch_labels = None
depends_on = None

BACKFILL = f"""
insert into outbox.messages (id, kind, target, job_id, payload, created_at)
select gen_random_uuid(), 'job', '{EMBED_JOB}', '{EMBED_JOB}:' || id,
  jsonb_build_array(org_id::text, id::text), now()
from support.tickets"""  # noqa: S608 - built from a constant


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
    for statement in isolate_by_org("support.ticket_embeddings"):
        op.execute(statement)
    op.execute("drop index support.tickets_text")
    # the tickets of before are embedded by the worker, as new ones are: one job each, through
    # the outbox (the arguments and job id stage_job gives EMBED_JOB)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute(
        "create index tickets_text on support.tickets"
        " using gin (to_tsvector('english', title || ' ' || body))"
    )
    op.execute("drop table support.ticket_embeddings")
