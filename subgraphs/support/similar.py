"""Similar tickets by PostgreSQL full-text search: the words of a ticket (English stems, HTML
tags ignored), any of them matching, ranked by ``ts_rank``. Lexical, not semantic: "charged
twice" finds "charge" and "twice", not "billed two times"; it needs no extension, so it runs on
every PostgreSQL the platform supports."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

DOCUMENT = "to_tsvector('english', {t}.title || ' ' || {t}.body)"
# Any of the text's stems, taken as they are (quoted, so no stem is read as an operator).
ANY_OF = (
    "to_tsquery('simple', coalesce(array_to_string(array("
    "select quote_literal(l) from unnest(tsvector_to_array({doc})) l), ' | '), ''))"
)
MATCHES = f"""
  select t.id, ts_rank({DOCUMENT.format(t="t")}, s.q, 32) as score
  from support.tickets t
  where t.org_id = s.org_id and t.id is distinct from s.id and t.status <> 'merged'
    and (:agent or t.requester_id = :user)
    and {DOCUMENT.format(t="t")} @@ s.q
  order by score desc, t.number desc
  limit :first"""  # noqa: S608 - built from constants; values are bound
OF_TICKETS = f"""
with s as (
  select id, org_id, {ANY_OF.format(doc=DOCUMENT.format(t="support.tickets"))} as q
  from support.tickets where id = any(:ids)
)
select s.id as source, m.id, m.score from s cross join lateral ({MATCHES}) m"""  # noqa: S608
OF_TEXT = f"""
with s as (
  select cast(:org as uuid) as org_id, cast(null as uuid) as id,
    {ANY_OF.format(doc="to_tsvector('english', :text)")} as q
)
select m.id, m.score from s cross join lateral ({MATCHES}) m"""  # noqa: S608


async def of_tickets(
    session: AsyncSession, ids: list[UUID], *, agent: bool, user: UUID | None, first: int
) -> dict[UUID, list[tuple[UUID, float]]]:
    """For each ticket, the ids and scores (0 to 1) of the most similar others it may show."""
    rows = await session.exec(  # type: ignore[call-overload]
        text(OF_TICKETS).bindparams(ids=ids, agent=agent, user=user, first=first)
    )
    found: dict[UUID, list[tuple[UUID, float]]] = {}
    for source, match, score in rows:
        found.setdefault(source, []).append((match, float(score)))
    return found


async def of_text(
    session: AsyncSession, org_id: UUID, words: str, *, agent: bool, user: UUID | None, first: int
) -> list[tuple[UUID, float]]:
    rows = await session.exec(  # type: ignore[call-overload]
        text(OF_TEXT).bindparams(org=org_id, text=words, agent=agent, user=user, first=first)
    )
    return [(match, float(score)) for match, score in rows]
