"""Async PostgreSQL access as the application role, with the tenant set per transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.caller import Caller


def async_url(url: str) -> URL:
    """Accept ``postgresql://`` (as libpq and pgserver write it) and use the asyncpg driver."""
    return make_url(url).set(drivername="postgresql+asyncpg")


def engine_for(url: str, *, role: str | None = None, pool_size: int = 5) -> AsyncEngine:
    """An engine; with ``role`` every connection acts as that role, so RLS applies to it."""
    args = {"server_settings": {"role": role}} if role else {}
    return create_async_engine(
        async_url(url), connect_args=args, pool_size=pool_size, pool_pre_ping=False
    )


async def set_local(session: AsyncSession, name: str, value: str | UUID | None) -> None:
    """Set a transaction-local setting read by row-level security policies."""
    await session.execute(
        text("select set_config(:name, :value, true)"),
        {"name": name, "value": str(value) if value else ""},
    )


class Database:
    """The application's connection pool; every unit of work is one transaction for one caller."""

    def __init__(self, url: str, *, role: str | None) -> None:
        self.engine = engine_for(url, role=role)

    @asynccontextmanager
    async def transaction(self, caller: Caller) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on any exception; tenant and user set for RLS."""
        session = AsyncSession(self.engine, expire_on_commit=False)
        async with session, session.begin():
            await session.execute(
                text(
                    "select set_config('app.org_id', :org, true),"
                    " set_config('app.user_id', :user, true)"
                ),
                {"org": str(caller.org_id or ""), "user": str(caller.user_id or "")},
            )
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("select 1"))

    async def close(self) -> None:
        await self.engine.dispose()
