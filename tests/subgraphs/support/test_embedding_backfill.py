"""The migration that brings embeddings asks the worker to embed every ticket of before."""

from __future__ import annotations

import asyncio
import secrets
from uuid import uuid4

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.kernel.db import async_url
from subgraphs.kernel.migrations import _config, migrate
from subgraphs.support.app import DOMAIN
from subgraphs.support.contract import EMBED_JOB
from vetrai.devstack import create_database
from vetrai.platform import all_migrations
from vetrai.settings import PlatformSettings

OLD_TICKET = """
insert into support.tickets (id, org_id, number, title, body, status, priority, tags,
  custom_fields, requester_id, created_at, updated_at)
values (:t, :o, 1, 'Old', '<p>old</p>', 'new', 'normal', '{}', '{}', gen_random_uuid(),
  now(), now())"""


async def test_tickets_of_before_the_embeddings_get_an_embedding_job(
    server_settings: PlatformSettings,
) -> None:
    server = server_settings.core.database_url
    assert server
    name = f"vetrai_test_{secrets.token_hex(4)}"
    url = await create_database(server, name)
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    support = _config(url, DOMAIN.migrations)
    try:
        await asyncio.to_thread(migrate, url, all_migrations(), [])
        await asyncio.to_thread(command.downgrade, support, "support_0006")
        org, ticket = uuid4(), uuid4()
        async with engine.begin() as connection:
            await connection.execute(text(OLD_TICKET), {"t": ticket, "o": org})
        await asyncio.to_thread(command.upgrade, support, "head")
        async with engine.connect() as connection:
            staged = await connection.execute(
                text("select target, payload from outbox.messages where job_id = :j"),
                {"j": f"{EMBED_JOB}:{ticket}"},
            )
            assert [tuple(row) for row in staged] == [(EMBED_JOB, [str(org), str(ticket)])]
    finally:
        await engine.dispose()
        admin = create_async_engine(
            async_url(server), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        async with admin.connect() as connection:
            await connection.execute(text(f'drop database "{name}" with (force)'))
        await admin.dispose()
