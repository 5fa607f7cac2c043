"""One database role per domain, as raw SQL sees it: a domain's role reads only its own schema
(and the outbox messages it wrote), owns nothing, bypasses no row security and cannot become
the owner; the migrations make and upgrade the roles, retiring the shared ``vetrai_app``."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.caller import Caller
from subgraphs.kernel.db import Database, async_url
from subgraphs.kernel.migrations import role_of
from subgraphs.kernel.outbox import stage_announcement
from tests.conftest import database_of_our_own, migrate_alone
from vetrai.devstack import create_database, on_database
from vetrai.platform import DOMAINS, RELAY, login_names
from vetrai.settings import PlatformSettings

NAMES = [d.name for d in DOMAINS]
PAIRS = [(reader, owner) for reader in NAMES for owner in NAMES if reader != owner]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def login(settings: PlatformSettings, name: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection as login ``name``, exactly as its processes connect."""
    connection = await asyncpg.connect(_dsn(settings.core.login_url(name)))
    try:
        yield connection
    finally:
        await connection.close()


async def _tables(owner_engine: AsyncEngine, schema: str) -> list[str]:
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text("select tablename from pg_tables where schemaname = :s order by 1"), {"s": schema}
        )
        return [row[0] for row in rows]


@pytest.mark.parametrize(("reader", "owner"), PAIRS)
async def test_a_domains_role_cannot_read_another_domains_tables(
    settings: PlatformSettings, owner_engine: AsyncEngine, reader: str, owner: str
) -> None:
    tables = await _tables(owner_engine, owner)
    assert tables
    async with login(settings, reader) as connection:
        for table in tables:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await connection.fetch(f"select * from {owner}.{table} limit 1")  # noqa: S608


@pytest.mark.parametrize("reader", [n for n in login_names() if n != "auth"])
@pytest.mark.parametrize("table", ["users", "refresh_tokens", "email_tokens"])
async def test_auths_secrets_are_unreadable_from_every_other_role(
    settings: PlatformSettings, reader: str, table: str
) -> None:
    async with login(settings, reader) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.fetch(f"select * from auth.{table}")  # noqa: S608


@pytest.mark.parametrize("name", NAMES)
async def test_a_domains_role_reads_and_writes_its_own_schema(
    settings: PlatformSettings, owner_engine: AsyncEngine, name: str
) -> None:
    tables = [t for t in await _tables(owner_engine, name) if t != "alembic_version"]
    async with login(settings, name) as connection:
        for table in tables:
            await connection.fetch(f"select * from {name}.{table} limit 1")  # noqa: S608
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch(f"select * from {name}.alembic_version")  # noqa: S608


@pytest.mark.parametrize("name", login_names())
async def test_an_application_connection_cannot_become_the_owner(
    settings: PlatformSettings, owner_engine: AsyncEngine, name: str
) -> None:
    async with owner_engine.connect() as connection:
        owner = await connection.scalar(text("select current_user"))
    async with login(settings, name) as connection:
        await connection.execute("reset role")
        assert await connection.fetchval("select current_user") == role_of(name)
        for statement in (f'set role "{owner}"', f'set session authorization "{owner}"'):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await connection.execute(statement)
        assert await connection.fetchval("select current_user") == role_of(name)


@pytest.mark.parametrize("name", login_names())
async def test_a_login_role_owns_nothing_and_bypasses_no_row_security(
    owner_engine: AsyncEngine, name: str
) -> None:
    query = text(
        "select rolbypassrls, rolsuper, rolcreaterole, rolcreatedb, rolinherit,"
        " (select count(*) from pg_class where relowner = r.oid)"
        " + (select count(*) from pg_namespace where nspowner = r.oid),"
        " (select count(*) from pg_auth_members where member = r.oid)"
        " from pg_roles r where rolname = :role"
    )
    async with owner_engine.connect() as connection:
        found = (await connection.execute(query, {"role": role_of(name)})).one()
    assert tuple(found) == (False, False, False, False, False, 0, 0)


async def test_a_login_needs_its_password(settings: PlatformSettings) -> None:
    url = make_url(settings.core.login_url("auth"))
    for password in ("", "wrong"):
        given = url.set(password=password).render_as_string(hide_password=False)
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(_dsn(given))


async def test_outbox_messages_are_seen_only_by_their_producer_and_the_relay(
    server_settings: PlatformSettings,
) -> None:
    # Not the session's database: the session's worker would relay (and delete) the message
    # between the statements.
    async with database_of_our_own(server_settings) as settings:
        await _outbox_rights(settings)


async def _outbox_rights(settings: PlatformSettings) -> None:
    channel = f"test:roles:{secrets.token_hex(4)}"
    auth = Database(settings.core.login_url("auth"))
    async with auth.transaction(Caller()) as session:
        await stage_announcement(session, channel, {"secret": "only auth and the relay"})
    await auth.close()
    count = "select count(*) from outbox.messages where target = $1"
    async with login(settings, "auth") as connection:
        assert await connection.fetchval(count, channel) == 1
    async with login(settings, "notifications") as connection:
        assert await connection.fetchval(count, channel) == 0
        assert await connection.execute("delete from outbox.messages where target = $1", channel)
    async with login(settings, RELAY) as connection:
        assert await connection.fetchval(count, channel) == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("select * from auth.users")
        await connection.execute("delete from outbox.messages where target = $1", channel)
        assert await connection.fetchval(count, channel) == 0


async def test_migrations_upgrade_a_database_of_the_shared_application_role(
    server_settings: PlatformSettings,
) -> None:
    assert server_settings.core.database_url
    name = f"vetrai_test_{secrets.token_hex(4)}"
    url = await create_database(server_settings.core.database_url, name)
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.begin() as connection:  # as the code before the per-domain roles left it
        await connection.execute(
            text(
                "do $$ begin if not exists (select from pg_roles where rolname = 'vetrai_app')"
                " then create role vetrai_app nologin; end if; end $$"
            )
        )
        await connection.execute(text("create schema if not exists auth"))
        await connection.execute(text("grant usage on schema auth to vetrai_app"))
    mine = on_database(server_settings, name)
    for _ in range(2):  # and again: nothing changes
        await asyncio.to_thread(migrate_alone, url, mine)
    async with engine.connect() as connection:
        left = await connection.scalar(
            text(
                "select count(*) from pg_roles where rolname = 'vetrai_app'"
                " and (rolcanlogin or has_schema_privilege(oid, 'auth', 'usage'))"
            )
        )
    await engine.dispose()
    assert left == 0
    async with login(mine, "auth") as connection:
        assert await connection.fetchval("select count(*) from auth.users") == 0
    await _drop(server_settings, name)


async def _drop(server_settings: PlatformSettings, name: str) -> None:
    assert server_settings.core.database_url
    engine = create_async_engine(
        async_url(server_settings.core.database_url),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
    )
    async with engine.connect() as connection:
        await connection.execute(text(f'drop database "{name}" with (force)'))
    await engine.dispose()
