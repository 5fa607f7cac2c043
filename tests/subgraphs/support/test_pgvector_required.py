"""Support needs pgvector: on a server without an extension a schema needs, migrations stop
before any change with one message naming it and where to get it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.kernel.db import async_url
from subgraphs.kernel.migrations import MigrationSet, MissingExtension, migrate
from subgraphs.support.app import DOMAIN, PGVECTOR
from vetrai.platform import all_migrations
from vetrai.settings import PlatformSettings


def test_support_declares_pgvector() -> None:
    assert DOMAIN.migrations.extensions == {"vector": PGVECTOR}


async def test_migrations_stop_before_any_change_without_an_extension(
    settings: PlatformSettings,
) -> None:
    url = settings.core.database_url
    assert url
    lacking = MigrationSet(
        "lacking", DOMAIN.migrations.versions, extensions={"no_such_extension": "build it"}
    )
    with pytest.raises(MissingExtension) as raised:
        await asyncio.to_thread(migrate, url, [lacking, *all_migrations()], [])
    assert str(raised.value).endswith(
        "has no extension 'no_such_extension', which the lacking schema needs: build it"
    )
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.connect() as connection:
        created = await connection.scalar(
            text("select count(*) from pg_namespace where nspname = 'lacking'")
        )
    await engine.dispose()
    assert created == 0
