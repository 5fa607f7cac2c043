"""Similar tickets by meaning: each ticket's title and body embedded once (all-MiniLM-L6-v2, by
a worker job) into pgvector, and the nearest by cosine distance among its organization's
tickets the reader may see, searched exactly (see the migration support_0007 for why no HNSW
index). "Charged twice" finds "billed two times"."""

from __future__ import annotations

import html
from uuid import UUID

import nh3
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import utcnow
from subgraphs.support.models import Ticket

NEAREST = """
  select t.id, 1 - (e.embedding <=> s.embedding) as score
  from support.ticket_embeddings e join support.tickets t on t.id = e.ticket_id
  where e.org_id = s.org_id and t.id is distinct from s.id and t.status <> 'merged'
    and (:agent or t.requester_id = :user)
    and (not :settled or t.status in ('resolved', 'closed'))
  order by score desc, t.number desc
  limit :first"""
OF_TICKETS = f"""
with s as (
  select ticket_id as id, org_id, embedding from support.ticket_embeddings
  where ticket_id = any(:ids)
)
select s.id as source, m.id, m.score from s cross join lateral ({NEAREST}) m"""  # noqa: S608
OF_VECTOR = f"""
with s as (
  select cast(:org as uuid) as org_id, cast(null as uuid) as id,
    cast(cast(:vector as text) as vector) as embedding
)
select m.id, m.score from s cross join lateral ({NEAREST}) m"""  # noqa: S608
STORE = """
insert into support.ticket_embeddings (ticket_id, org_id, embedding, created_at)
values (:ticket, :org, cast(cast(:vector as text) as vector), :at)
on conflict (ticket_id) do update set embedding = excluded.embedding,
  created_at = excluded.created_at"""


def document(title: str, body: str) -> str:
    """What an embedding reads of a ticket: its title and the text of its HTML body."""
    return f"{title}\n{html.unescape(nh3.clean(body, tags=set()))}".strip()


def _literal(vector: list[float]) -> str:
    return "[" + ",".join(repr(x) for x in vector) + "]"


async def store(session: AsyncSession, ticket: Ticket, vector: list[float]) -> None:
    await session.exec(  # type: ignore[call-overload]
        text(STORE).bindparams(
            ticket=ticket.id, org=ticket.org_id, vector=_literal(vector), at=utcnow()
        )
    )


async def of_tickets(
    session: AsyncSession,
    ids: list[UUID],
    *,
    agent: bool,
    user: UUID | None,
    first: int,
    settled: bool = False,
) -> dict[UUID, list[tuple[UUID, float]]]:
    """For each embedded ticket, the ids and cosine similarities of the nearest others it may
    show (only resolved or closed ones if ``settled``), nearest first."""
    rows = await session.exec(  # type: ignore[call-overload]
        text(OF_TICKETS).bindparams(ids=ids, agent=agent, user=user, first=first, settled=settled)
    )
    found: dict[UUID, list[tuple[UUID, float]]] = {}
    for source, match, score in rows:
        found.setdefault(source, []).append((match, float(score)))
    return found


async def of_vector(
    session: AsyncSession,
    org_id: UUID,
    vector: list[float],
    *,
    agent: bool,
    user: UUID | None,
    first: int,
) -> list[tuple[UUID, float]]:
    rows = await session.exec(  # type: ignore[call-overload]
        text(OF_VECTOR).bindparams(
            org=org_id, vector=_literal(vector), agent=agent, user=user, first=first, settled=False
        )
    )
    return [(match, float(score)) for match, score in rows]
