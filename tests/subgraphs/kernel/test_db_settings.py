"""The tenant settings live for one transaction: a pooled connection never carries one caller's
organization, user or key hash to the next caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.kernel.db import Database, set_local, upsert_if_newer
from vetrai.settings import PlatformSettings

SETTINGS = text(
    "select pg_backend_pid(), current_setting('app.org_id', true),"
    " current_setting('app.user_id', true), current_setting('app.key_hash', true)"
)


@pytest.fixture
async def database(settings: PlatformSettings) -> AsyncIterator[Database]:
    url = settings.core.login_url("tenancy")
    db = Database(url)
    yield db
    await db.close()


async def test_settings_end_with_the_transaction_on_the_pooled_connection(
    database: Database,
) -> None:
    caller = Caller(org_id=uuid4(), user_id=uuid4())
    async with database.transaction(caller) as session:
        await set_local(session, "app.key_hash", "f" * 64)
        pid, org, user, key_hash = (await session.exec(SETTINGS)).one()  # type: ignore[call-overload]
    assert (org, user, key_hash) == (str(caller.org_id), str(caller.user_id), "f" * 64)
    async with database.engine.connect() as connection:
        after = (await connection.execute(SETTINGS)).one()
    assert after[0] == pid  # the same server connection, back from the pool
    assert [value or "" for value in after[1:]] == ["", "", ""]


async def test_a_caller_without_organization_gets_empty_settings(database: Database) -> None:
    async with database.transaction(Caller(org_id=uuid4())):
        pass
    async with database.transaction(Caller()) as session:
        _, org, user, _ = (await session.exec(SETTINGS)).one()  # type: ignore[call-overload]
    assert (org, user) == ("", "")


async def test_close_releases_the_server_connections(
    settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    url = settings.core.login_url("tenancy")
    database = Database(url)
    await database.ping()
    async with database.engine.connect() as connection:
        pid = await connection.scalar(text("select pg_backend_pid()"))
    await database.close()
    alive = text("select count(*) from pg_stat_activity where pid = :pid")
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with owner_engine.connect() as connection:
            if await connection.scalar(alive, {"pid": pid}) == 0:
                return
        assert asyncio.get_running_loop().time() < deadline, "the connection stayed open"
        await asyncio.sleep(0.02)


COPIES = Table(
    "copies",
    MetaData(),
    Column("org_id", String, primary_key=True),
    Column("name", String),
    Column("as_of", Integer),
)


async def test_a_copy_is_replaced_only_by_a_newer_one(database: Database) -> None:
    seen = []
    async with database.transaction(Caller()) as session:
        await session.execute(
            text("create temp table copies (org_id text primary key, name text, as_of int)")
        )
        for name, as_of in [("first", 2), ("older", 1), ("as old", 2), ("newer", 3)]:
            row = {"org_id": "o", "name": name, "as_of": as_of}
            await upsert_if_newer(session, COPIES, row, key="org_id")
            stored = (await session.execute(text("select name, as_of from copies"))).all()
            seen.append([tuple(r) for r in stored])
        await session.execute(text("drop table copies"))

    assert seen == [[("first", 2)], [("first", 2)], [("first", 2)], [("newer", 3)]]
