"""Alembic migrations, one history per PostgreSQL schema, applied by the owner role, and the
login roles the processes connect as: each created, kept without privileges of its own (no
owner, no BYPASSRLS, member of no role) and granted only what its ``Login`` lists."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.kernel.db import async_url

_ALEMBIC = Path(__file__).parent / "alembic"


@dataclass(frozen=True)
class MigrationSet:
    """The migrations of one schema (a subgraph's, or the retired outbox's), and the PostgreSQL
    extensions they create, each with where to get it."""

    schema: str
    versions: Path
    extensions: dict[str, str] = field(default_factory=dict)


class MissingExtension(Exception):
    """The server cannot create an extension a schema needs; nothing was migrated."""


# The one application role every subgraph shared before each logged in as its own.
RETIRED_ROLES = ("vetrai_app",)
ROLE_ATTRIBUTES = "login nosuperuser nocreatedb nocreaterole noinherit noreplication nobypassrls"
SCRAM_ITERATIONS = 4096


def role_of(name: str) -> str:
    """The role login ``name`` (a domain, or the outbox relay) connects as."""
    return f"vetrai_{name}"


@dataclass(frozen=True)
class Login:
    """A role a process connects as, the statements granting it its rights (run after every
    migration), and the URL it logs in with, whose password, if any, the role is given."""

    name: str
    grants: tuple[str, ...]
    url: str | None = None

    @property
    def role(self) -> str:
        return role_of(self.name)


def schema_rights(schema: str, role: str) -> tuple[str, ...]:
    """The rows of every table of ``schema`` (not its migration history), for ``role``."""
    return (
        f"grant usage on schema {schema} to {role}",
        f"grant select, insert, update, delete on all tables in schema {schema} to {role}",
        f"revoke all on table {schema}.alembic_version from {role}",
    )


def scram_verifier(password: str) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5803), computed here so the
    password itself never reaches the server, nor its logs."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client = hmac.new(salted, b"Client Key", "sha256").digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    stored = hashlib.sha256(client).digest()
    b64 = [base64.b64encode(part).decode() for part in (salt, stored, server)]
    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64[0]}${b64[1]}:{b64[2]}"


def _config(url: str, migrations: MigrationSet) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_ALEMBIC))
    config.set_main_option("version_locations", str(migrations.versions))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["schema"] = migrations.schema
    return config


async def _logs_in(url: str) -> bool:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(dsn, timeout=10)
    except asyncpg.PostgresError:
        return False
    await connection.close()
    return True


async def _retire(connection: AsyncConnection, role: str) -> None:
    """Drop an old role's rights here; drop it unless another database still grants it some."""
    await connection.execute(
        text(
            "do $$ begin"
            f" if exists (select from pg_roles where rolname = '{role}') then"
            f" drop owned by {role};"
            f" begin drop role {role};"
            f" exception when dependent_objects_still_exist then alter role {role} nologin; end;"
            " end if; end $$"
        )
    )


async def _provision(connection: AsyncConnection, login: Login) -> None:
    """Create the role if missing; (re)set its attributes, memberships and password only when
    they differ, so that running again changes nothing."""
    role = login.role
    await connection.execute(
        text(
            "do $$ begin"
            f" if not exists (select from pg_roles where rolname = '{role}') then"
            f" create role {role} {ROLE_ATTRIBUTES}; end if;"
            " exception when duplicate_object or unique_violation then null; end $$"
        )
    )
    attributes = await connection.scalar(
        text(
            "select rolcanlogin and not (rolsuper or rolcreatedb or rolcreaterole or rolinherit"
            " or rolreplication or rolbypassrls) from pg_roles where rolname = :role"
        ),
        {"role": role},
    )
    if not attributes:
        await connection.execute(text(f"alter role {role} with {ROLE_ATTRIBUTES}"))
    granted = await connection.execute(
        text(
            "select roleid::regrole::text from pg_auth_members where member = cast(:r as regrole)"
        ),
        {"r": role},
    )
    for (parent,) in granted.all():
        await connection.execute(text(f"revoke {parent} from {role}"))
    password = make_url(login.url).password if login.url else None
    if login.url and password and not await _logs_in(login.url):
        verifier = scram_verifier(str(password))
        # as the driver gets it: the verifier's colons are no bind parameters
        await connection.exec_driver_sql(f"alter role {role} with password '{verifier}'")


async def _prepare(url: str, schemas: list[str], logins: Sequence[Login]) -> None:
    """The login roles, each as its ``Login`` says, and the schemas the histories live in."""
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.begin() as connection:
        for retired in RETIRED_ROLES:
            await _retire(connection, retired)
        for login in logins:
            await _provision(connection, login)
        for schema in schemas:
            await connection.execute(text(f"create schema if not exists {schema}"))
    await engine.dispose()


async def _grant(url: str, logins: Sequence[Login]) -> None:
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.begin() as connection:
        for login in logins:
            for statement in login.grants:
                await connection.execute(text(statement))
    await engine.dispose()


async def require_extensions(url: str, sets: list[MigrationSet]) -> None:
    """Raise ``MissingExtension`` unless the server at ``url`` can create every extension."""
    needed = {name: (s.schema, how) for s in sets for name, how in s.extensions.items()}
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("select name from pg_available_extensions where name = any(:names)"),
            {"names": list(needed)},
        )
        available = set(rows.scalars())
    await engine.dispose()
    for name, (schema, how) in needed.items():
        if name not in available:
            server = make_url(url)
            raise MissingExtension(
                f"PostgreSQL at {server.host}:{server.port or 5432} has no extension {name!r},"
                f" which the {schema} schema needs: {how}"
            )


def migrate(url: str, sets: list[MigrationSet], logins: Sequence[Login]) -> None:
    """Bring every schema to its latest revision and every login to its rights; safe to run
    again. ``url`` logs in as the tables' owner, who needs CREATEROLE. Blocks: call from a
    thread. Raises ``MissingExtension``, before any change, when the server lacks one."""
    asyncio.run(require_extensions(url, sets))
    schemas = [s.schema for s in sets]
    asyncio.run(_prepare(url, schemas, logins))
    for migrations in sets:
        command.upgrade(_config(url, migrations), "head")
    asyncio.run(_grant(url, logins))
