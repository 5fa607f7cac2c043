"""Async PostgreSQL access as a domain's own login role, with the tenant set per transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, text
from sqlalchemy import select as sql_select
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


@cache
def _setting_statement(names: tuple[str, ...]) -> Select[Any]:
    """``select set_config(<name>, :v<i>, true), ...``, built once per set of names: the start
    of every transaction builds no statement."""
    columns = (func.set_config(n, bindparam(f"v{i}"), True) for i, n in enumerate(names))
    return sql_select(*columns)


_CALLER_SETTINGS = ("app.org_id", "app.user_id")


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

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.engine = engine_for(url, pool_size=pool_size)
        self.after_commit: Callable[[list[UUID]], Awaitable[None]] | None = None

    @asynccontextmanager
    async def transaction(
        self, caller: Caller, local: Mapping[str, str] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on any exception; tenant and user set for RLS, with the
        transaction-local settings ``local`` (in the same statement: no round trip of their own)."""
        session = AsyncSession(self.engine, expire_on_commit=False)
        async with session:
            async with session.begin():
                extra = local or {}
                values = [caller.org_id, caller.user_id, *extra.values()]
                connection = await session.connection()
                await connection.execute(
                    _setting_statement((*_CALLER_SETTINGS, *extra)),
                    {f"v{i}": str(v) if v else "" for i, v in enumerate(values)},
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
