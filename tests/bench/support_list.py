"""Ticket list latency at 10,000 tickets in one organization: Organization.tickets(first: 20)
with requester, assignee and comment counts, unfiltered and filtered, through the support app.

Run with `.venv/bin/python -m tests.bench.support_list` from the repository root (embedded
PostgreSQL and Redis under a temporary folder); not part of CI.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from uuid import uuid4

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.caller import Caller
from core.caller_context import HEADER, context_key, sign_caller
from subgraphs.kernel.db import async_url
from subgraphs.kernel.migrations import migrate
from tests.bench.stack import run_on_stack
from vetrai.devstack import create_database, on_database
from vetrai.platform import all_migrations, domain, logins
from vetrai.settings import PlatformSettings

TICKETS = 10_000
QUERY = """query($r: [_Any!]!, $filter: TicketFilterInput) { _entities(representations: $r) {
  ... on Organization { tickets(first: 20, filter: $filter) {
    edges { node { number title requester { id } assignee { id } commentCount } } } } } }"""
SEED = """
insert into support.tickets (id, org_id, number, title, body, status, priority, tags,
  custom_fields, requester_id, assignee_id, created_at, updated_at)
select gen_random_uuid(), :org, n, 'Ticket ' || n, '<p>Body ' || n || '</p>',
  (array['new','open','pending','resolved'])[1 + n % 4], 'normal',
  array[(array['billing','login','api'])[1 + n % 3]], '{}', gen_random_uuid(),
  case when n % 2 = 0 then cast(:agent as uuid) end, now(), now()
from generate_series(1, :count) n;
insert into support.comments (id, org_id, ticket_id, author_id, body, internal, mentions,
  created_at)
select gen_random_uuid(), org_id, id, requester_id, '<p>Hi</p>', number % 3 = 0, '{}', now()
from support.tickets where org_id = :org;
analyze support.tickets; analyze support.comments;
"""


async def bench(stack_settings: PlatformSettings) -> None:
    assert stack_settings.core.database_url
    name = f"bench_{secrets.token_hex(3)}"
    url = await create_database(stack_settings.core.database_url, name)
    settings = on_database(stack_settings, name)
    await asyncio.to_thread(migrate, url, all_migrations(), logins(settings))
    org, agent = uuid4(), uuid4()
    engine = create_async_engine(async_url(url))
    async with engine.begin() as connection:
        for statement in SEED.split(";"):
            if statement.strip():
                await connection.execute(
                    text(statement), {"org": org, "agent": agent, "count": TICKETS}
                )
    await engine.dispose()
    app = domain("support").create_app(settings)
    key = context_key(settings.core)
    owner = Caller(user_id=uuid4(), org_id=org, roles=frozenset({"owner"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://support") as client:
        for name, filter in (
            ("unfiltered", None),
            ("status", {"status": "OPEN"}),
            ("tag", {"tag": "billing"}),
            ("assignee", {"assigneeId": str(agent)}),
            ("breached", {"breached": True}),
        ):
            times = []
            for _ in range(30):
                headers = {HEADER: sign_caller(owner, audience="support", key=key)}
                body = {
                    "query": QUERY,
                    "variables": {
                        "r": [{"__typename": "Organization", "id": str(org)}],
                        "filter": filter,
                    },
                }
                started = time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert "errors" not in response.json(), response.text
            times.sort()
            print(
                f"{name:>10}: median {statistics.median(times):.1f} ms,"
                f" p95 {times[int(len(times) * 0.95) - 1]:.1f} ms"
            )
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


def main() -> None:
    run_on_stack(bench)


if __name__ == "__main__":
    main()
