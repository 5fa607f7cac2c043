"""Alembic migrations, one history per PostgreSQL schema, applied by the owner role."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.kernel.db import async_url

_ALEMBIC = Path(__file__).parent / "alembic"


@dataclass(frozen=True)
class MigrationSet:
    """The migrations of one schema (a subgraph's, or the retired outbox's)."""

    schema: str
    versions: Path


def _config(url: str, migrations: MigrationSet) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_ALEMBIC))
    config.set_main_option("version_locations", str(migrations.versions))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["schema"] = migrations.schema
    return config


async def _prepare(url: str, app_role: str, schemas: list[str]) -> None:
    """Create the application role (never an owner) and the schemas the histories live in."""
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "do $$ begin"
                f" if not exists (select from pg_roles where rolname = '{app_role}') then"
                f" create role {app_role} nologin; end if;"
                " exception when duplicate_object or unique_violation then null; end $$"
            )
        )
        await connection.execute(text(f"grant {app_role} to current_user"))
        for schema in schemas:
            await connection.execute(text(f"create schema if not exists {schema}"))
    await engine.dispose()


async def _grant(url: str, app_role: str, schemas: list[str]) -> None:
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.begin() as connection:
        for schema in schemas:
            for statement in (
                f"grant usage on schema {schema} to {app_role}",
                f"grant select, insert, update, delete on all tables in schema {schema}"
                f" to {app_role}",
                f"revoke all on table {schema}.alembic_version from {app_role}",
            ):
                await connection.execute(text(statement))
    await engine.dispose()


def migrate(url: str, app_role: str, sets: list[MigrationSet]) -> None:
    """Bring every schema to its latest revision; safe to run again. Blocks: call from a thread."""
    schemas = [s.schema for s in sets]
    asyncio.run(_prepare(url, app_role, schemas))
    for migrations in sets:
        command.upgrade(_config(url, migrations), "head")
    asyncio.run(_grant(url, app_role, schemas))
