"""Settings checked before anything starts: the configured servers answer, the ports are free.
Each problem is one line naming its variable."""

from __future__ import annotations

import asyncio
import os
import socket

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from core.settings import login_variable
from subgraphs.kernel.migrations import role_of
from vetrai.settings import PlatformSettings

TIMEOUT_SECONDS = 3.0


def _where(host: str | None, port: int | None, default_port: int) -> str:
    return f"{host or 'localhost'}:{port or default_port}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _postgres_url(variable: str, value: str) -> URL | str:
    try:
        url = make_url(value)
    except ArgumentError:
        return f"{variable}: not a URL ({value!r}); expected postgresql://USER@HOST:PORT/DATABASE"
    if url.get_backend_name() != "postgresql":
        return f"{variable}: not a PostgreSQL URL (scheme {url.drivername!r})"
    return url


async def check_postgres(variable: str, value: str) -> str | None:
    """None when ``value`` names a PostgreSQL database we can log in to, else the problem."""
    url = _postgres_url(variable, value)
    if isinstance(url, str):
        return url
    where = _where(url.host, url.port, 5432)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(dsn, timeout=TIMEOUT_SECONDS)
    except asyncpg.InvalidCatalogNameError:
        return f"{variable}: database {url.database!r} does not exist on {where}"
    except asyncpg.PostgresError as exc:
        return f"{variable}: {where} refused the login ({_reason(exc)})"
    except (OSError, TimeoutError) as exc:
        return f"{variable}: cannot connect to {where} ({_reason(exc)})"
    await connection.close()
    return None


async def check_redis(variable: str, value: str) -> str | None:
    """None when ``value`` names a Redis that answers a PING, else the problem."""
    try:
        client = aioredis.Redis.from_url(
            value, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
    except ValueError:
        return f"{variable}: not a Redis URL ({value!r}); expected redis://HOST:PORT/DB"
    kwargs = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or _where(kwargs.get("host"), kwargs.get("port"), 6379)
    try:
        await client.ping()
    except aioredis.AuthenticationError as exc:
        return f"{variable}: {where} refused the login ({_reason(exc)})"
    except (aioredis.RedisError, OSError) as exc:
        cause = exc.__cause__ or exc.__context__ or exc
        return f"{variable}: cannot connect to {where} ({_reason(cause)})"
    finally:
        await client.aclose()
    return None


def port_problem(host: str, port: int) -> str | None:
    """None when ``port`` can be bound on ``host``, else the problem."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return f"port {port} is in use: is VetrAI already running?"
    return None


def _login_problem(name: str, url: str | None) -> str | None:
    variable, role = login_variable(name), role_of(name)
    if not url:
        return f"{variable}: not set ({name} logs in as the role {role})"
    parsed = _postgres_url(variable, url)
    if not isinstance(parsed, str) and parsed.username != role:
        return f"{variable}: logs in as {parsed.username!r}; {name}'s role is {role}"
    return None


def missing(settings: PlatformSettings, *, owner: bool, logins: list[str]) -> list[str]:
    """In production, the database URLs a process needs and was not given: the owner's (to
    migrate) and those of ``logins``, each naming its role."""
    core = settings.core
    if core.environment != "production":
        return []  # the dev stack makes what is not configured
    found = ["DATABASE_URL: not set (the tables' owner migrates)"] if owner else []
    found = found if not core.database_url else []
    problems = (_login_problem(name, core.database_logins.get(name)) for name in logins)
    return found + [problem for problem in problems if problem]


def problems(
    settings: PlatformSettings, *, database: bool, owner: bool, logins: list[str], ports: list[int]
) -> list[str]:
    """Every problem of the configured servers (PostgreSQL only if ``database``), of the
    database URLs the process needs (``owner``, ``logins``) and of the ports."""
    core = settings.core
    urls = {login_variable(name): core.database_logins.get(name) for name in logins}
    if owner or core.environment != "production":
        urls["DATABASE_URL"] = core.database_url
    checks = [check_redis("REDIS_URL", core.redis_url) if core.redis_url else None] + [
        check_postgres(variable, url) for variable, url in urls.items() if database and url
    ]

    async def reach() -> list[str | None]:
        return list(await asyncio.gather(*(check for check in checks if check)))

    found = missing(settings, owner=owner, logins=logins)
    found += [problem for problem in asyncio.run(reach()) if problem]
    return found + [
        problem for port in ports if (problem := port_problem(settings.core.host, port))
    ]
