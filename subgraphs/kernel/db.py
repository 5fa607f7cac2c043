"""Async PostgreSQL access as a domain's own login role, with the tenant set per transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Table, func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller


def utcnow() -> datetime:
    """The time stored in every timestamp column (timezone-aware, UTC)."""
    return datetime.now(UTC)


def async_url(url: str) -> URL:
    """Accept ``postgresql://`` (as libpq and pgserver write it) and use the asyncpg driver."""
    return make_url(url).set(drivername="postgresql+asyncpg")


def engine_for(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine logging in as the role of ``url``, which row-level security applies to."""
    return create_async_engine(async_url(url), pool_size=pool_size, pool_pre_ping=False)


def _set_config(name: str, value: str | UUID | None) -> ColumnElement[str]:
    return func.set_config(name, str(value) if value else "", True)


async def set_local(session: AsyncSession, name: str, value: str | UUID | None) -> None:
    """Set a transaction-local setting read by row-level security policies."""
    await session.exec(select(_set_config(name, value)))


async def upsert_if_newer(
    session: AsyncSession, table: Table, row: dict[str, object], *, key: str, stamp: str = "as_of"
) -> None:
    """Store ``row``, or replace the stored row of its ``key`` when ``row[stamp]`` is newer: a
    copy of another domain's data that an older, replayed announcement never overwrites."""
    statement = insert(table).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in row if name != key},
        where=table.c[stamp] < statement.excluded[stamp],
    )
    await session.exec(statement)


# Where a session lists the outbox messages it wrote, for the flush after its commit.
STAGED = "outbox"


class Database:
    """The application's connection pool; every unit of work is one transaction for one caller.

    ``after_commit`` (set by whoever holds an outbox relay) receives the ids of the outbox
    messages a transaction wrote, once it has committed.
    """

    def __init__(self, url: str) -> None:
        self.engine = engine_for(url)
        self.after_commit: Callable[[list[UUID]], Awaitable[None]] | None = None

    @asynccontextmanager
    async def transaction(self, caller: Caller) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on any exception; tenant and user set for RLS."""
        session = AsyncSession(self.engine, expire_on_commit=False)
        async with session:
            async with session.begin():
                await session.exec(
                    select(
                        _set_config("app.org_id", caller.org_id),
                        _set_config("app.user_id", caller.user_id),
                    )
                )
                yield session
            staged: list[UUID] = session.info.pop(STAGED, [])
        if staged and self.after_commit is not None:
            await self.after_commit(staged)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("select 1"))

    async def close(self) -> None:
        await self.engine.dispose()
