"""Shared fixtures: a real PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are
set), a fresh migrated database per run, and HTTP clients for subgraph apps."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from arq.cron import CronJob
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.types import ASGIApp

from core.caller import Caller
from core.caller_context import HEADER, context_key, sign_caller
from subgraphs.kernel.db import Database, async_url
from subgraphs.kernel.migrations import MissingExtension, migrate, require_extensions
from subgraphs.notifications.service import NotificationService
from vetrai import worker as workers
from vetrai.devstack import create_database, on_database, start_stack
from vetrai.embedded import locked
from vetrai.platform import all_migrations, logins
from vetrai.serve import server_config
from vetrai.settings import PlatformSettings, load_settings

# Not under pytest's temporary folder: pytest resets its permissions at every start, which
# would lock out the embedded PostgreSQL (it runs as its own user when we are root). Each of
# pytest-xdist's workers has embedded servers of its own (WORKER_DATA), as two suites side by
# side would. On a configured PostgreSQL they share one data folder: it holds the passwords
# of the logins, which are that server's roles, the same for every worker.
TEST_ROOT = Path(__file__).parent.parent / ".data" / "test"
WORKER_DATA = TEST_ROOT / os.environ.get("PYTEST_XDIST_WORKER", "main")
TEST_DATA = TEST_ROOT / "shared" if os.environ.get("DATABASE_URL") else WORKER_DATA
# A migrated database that each run copies instead of migrating its own (the mutation tool's
# forks, which would each spend seconds migrating).
TEMPLATE_VAR = "VETRAI_TEST_DATABASE_TEMPLATE"
# How long a test waits for a process of the platform to start: generous for a loaded host.
PROCESS_START_SECONDS = 180


# Packages and files whose tests share a costly fixture (``vetrai up``, the ten processes of
# the deployment tests): under pytest-xdist (``--dist loadgroup``) each runs whole on one
# worker, so the fixture starts once.
WHOLE = ("e2e", "deploy/test_processes.py")
REDIS_DATABASES = 16  # a Redis server's default


def pytest_sessionstart(session: pytest.Session) -> None:
    """A configured PostgreSQL without an extension the platform needs is said once, here,
    before xdist's workers start (one stopping the session would crash the run)."""
    url = os.environ.get("DATABASE_URL")
    if url is None or hasattr(session.config, "workerinput"):
        return
    try:
        asyncio.run(require_extensions(url, all_migrations()))
    except MissingExtension as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):  # its mark is unknown without it
        return
    tests = Path(__file__).parent
    for item in items:
        path = item.path.relative_to(tests).as_posix()
        for whole in WHOLE:
            if path == whole or path.startswith(f"{whole}/"):
                item.add_marker(pytest.mark.xdist_group(whole))


def _redis_of_this_worker(url: str | None) -> str | None:
    """On a configured Redis, each xdist worker's own database (as each has its own embedded
    server): the platform's locks and counters (the keys flush's lock, the router's usage
    counters) are one per Redis database, and the session worker of one xdist worker would
    otherwise take them from the tests of another."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if url is None or not worker.startswith("gw"):
        return url
    return urlsplit(url)._replace(path=f"/{int(worker[2:]) % REDIS_DATABASES}").geturl()


@pytest.fixture(scope="session")
def server_settings() -> Iterator[PlatformSettings]:
    """Settings pointing at running servers (the embedded ones unless configured)."""
    data = TEST_DATA
    base = load_settings(
        environment="test",
        data_dir=data,
        database_url=os.environ.get("DATABASE_URL"),
        redis_url=_redis_of_this_worker(os.environ.get("REDIS_URL")),
    )
    stack = start_stack(base, say=lambda _: None)
    yield stack.settings
    stack.stop()


@asynccontextmanager
async def database_of_our_own(server_settings: PlatformSettings) -> AsyncIterator[PlatformSettings]:
    """Settings on a fresh database on that server, migrated to head with every login, and a
    queue of its own (workers of other runs on the same Redis must not take its jobs); the
    database is dropped afterwards."""
    assert server_settings.core.database_url
    name = f"vetrai_test_{secrets.token_hex(4)}"
    template = os.environ.get(TEMPLATE_VAR)
    url = await create_database(server_settings.core.database_url, name, template)
    mine = on_database(server_settings, name)
    try:
        if template is None:
            await asyncio.to_thread(migrate_alone, url, mine)
        yield mine.replace(queue_name=f"vetrai:test:{name}")
    finally:
        await _drop_database(server_settings, name)


@pytest.fixture(scope="session")
async def settings(server_settings: PlatformSettings) -> AsyncIterator[PlatformSettings]:
    """The session's database (``database_of_our_own``), which its worker serves."""
    async with database_of_our_own(server_settings) as mine:
        yield mine


def migrate_alone(url: str, settings: PlatformSettings) -> None:
    """Migrate with its logins while no other worker of this run does: on a shared server
    (``DATABASE_URL``), the logins are the cluster's roles, which two workers must not create
    or alter at once."""
    TEST_ROOT.mkdir(parents=True, exist_ok=True)
    with locked(TEST_ROOT / ".migrate.lock"):
        migrate(url, all_migrations(), logins(settings))


async def _drop_database(server_settings: PlatformSettings, name: str) -> None:
    assert server_settings.core.database_url
    engine = create_async_engine(
        async_url(server_settings.core.database_url),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
    )
    async with engine.connect() as connection:
        await connection.execute(text(f'drop database "{name}" with (force)'))
    await engine.dispose()


@pytest.fixture
async def migrated_database(
    server_settings: PlatformSettings,
) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A database of this test alone, migrated to head (no logins), and an engine on it as the
    owner: for a test that takes a domain's migrations back and forth."""
    assert server_settings.core.database_url
    name = f"vetrai_test_{secrets.token_hex(4)}"
    url = await create_database(server_settings.core.database_url, name)
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    await asyncio.to_thread(migrate, url, all_migrations(), [])
    yield url, engine
    await engine.dispose()
    await _drop_database(server_settings, name)


@pytest.fixture(scope="session")
async def owner_engine(settings: PlatformSettings) -> AsyncIterator[AsyncEngine]:
    """A connection as the migrating (owner) role, for checks the application role cannot make."""
    assert settings.core.database_url
    engine = create_async_engine(async_url(settings.core.database_url), poolclass=NullPool)
    yield engine
    await engine.dispose()


class SignedClient:
    """An HTTP client for one subgraph app that signs the caller context as the router does."""

    def __init__(self, name: str, client: httpx.AsyncClient, key: bytes) -> None:
        self.name = name
        self.client = client
        self.key = key

    def headers(self, caller: Caller | None) -> dict[str, str]:
        if caller is None:
            return {}
        return {HEADER: sign_caller(caller, audience=self.name, key=self.key)}

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, caller: Caller | None = None
    ) -> httpx.Response:
        body = {"query": query, "variables": variables or {}}
        return await self.client.post("/graphql", json=body, headers=self.headers(caller))

    async def run(
        self, query: str, variables: dict[str, Any] | None = None, caller: Caller | None = None
    ) -> dict[str, Any]:
        """The data of a successful response; fails the test on any GraphQL error."""
        response = await self.post(query, variables, caller)
        result = response.json()
        assert response.status_code == 200, result
        assert "errors" not in result, result["errors"]
        data: dict[str, Any] = result["data"]
        return data


async def subgraph_client(name: str, settings: PlatformSettings) -> AsyncIterator[SignedClient]:
    from vetrai.platform import domain

    app = domain(name).create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
        yield SignedClient(name, client, context_key(settings.core))
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait until ``condition`` holds; fail naming ``what`` after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


# The session's worker and its task, while it runs (see ``worker``).
SESSION_WORKER = pytest.StashKey[tuple[Worker, "asyncio.Task[None]"]]()
# How far from the clock's next slot a cron job's next run may be when the clock was not moved.
CRON_SLACK = timedelta(seconds=2)


@pytest.fixture(scope="session")
async def worker(settings: PlatformSettings, request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A real ARQ worker on the session's queue, running beside the tests (emails need it).

    It runs in the tests' own process, so a test moving the clock (time-machine) moves the
    worker's clock too: ARQ schedules a cron job's first run from the clock it first reads, then
    every later run from the one before. Yielded once its cron jobs are scheduled, so never
    from a travelled clock; ``the_session_worker_runs_on_the_real_clock`` puts them back after
    a test that moved them."""
    running = workers.create_worker(settings, poll_delay=0.02)
    task = asyncio.create_task(workers.run(running))
    async with asyncio.timeout(PROCESS_START_SECONDS):
        while not all(cron.next_run for cron in running.cron_jobs):
            assert not task.done(), "the session's worker stopped at its start"
            await asyncio.sleep(0.01)
    request.config.stash[SESSION_WORKER] = running, task
    yield
    del request.config.stash[SESSION_WORKER]
    workers.stop(running)
    await task


@pytest.fixture(autouse=True)
def the_session_worker_runs_on_the_real_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test: the session's worker still runs (a test waiting on a stopped worker
    only times out), and a clock the test moved has not left its cron jobs scheduled far from
    the real clock. Moved back at the worker's start, ARQ would queue every slot missed since,
    one per poll, for the rest of the session (months of a 5 s sweep); moved forward, no cron
    job would run until the clock catches up."""
    yield
    found = request.config.stash.get(SESSION_WORKER, None)
    if found is None:
        return
    running, task = found
    assert not task.done(), f"the session's worker stopped: {task}"
    now = datetime.now(tz=running.timezone)
    for cron in running.cron_jobs:
        earliest, latest = _slot_after(cron, now - CRON_SLACK), _slot_after(cron, now + CRON_SLACK)
        if not (cron.next_run and earliest <= cron.next_run <= latest):
            # Scheduled here from the real clock: left to the worker's next poll, it could be
            # scheduled from the next test's travelled clock, then run inside that test (an
            # SLA watch beside the test's own, holding its tickets).
            cron.next_run = _slot_after(cron, now)


def _slot_after(cron: CronJob, moment: datetime) -> datetime:
    probe = replace(cron)
    probe.calculate_next(moment)
    slot: datetime | None = probe.next_run
    assert slot is not None
    return slot


async def emailed(owner_engine: AsyncEngine, address: str, template_key: str) -> str:
    """The text of the latest email of ``template_key`` to ``address``, once the worker sent it."""
    query = text(
        "select d.body from notifications.deliveries d"
        " join notifications.notifications n on n.id = d.notification_id"
        " where d.channel = 'email' and d.status = 'sent' and d.address = :to"
        " and n.template_key = :key order by d.created_at desc limit 1"
    )
    for _ in range(500):  # 10 s
        async with owner_engine.connect() as connection:
            body = await connection.scalar(query, {"to": address, "key": template_key})
        if body is not None:
            return str(body)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {template_key} email was sent to {address}")


def link_token(body: str) -> str:
    return body.split("token=")[1].split()[0]


@pytest.fixture(scope="session")
async def auth(settings: PlatformSettings, worker: None) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("auth", settings):
        yield client


@pytest.fixture(scope="session")
async def tenancy(settings: PlatformSettings, worker: None) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("tenancy", settings):
        yield client


@pytest.fixture(scope="session")
async def keys(settings: PlatformSettings) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("keys", settings):
        yield client


@pytest.fixture(scope="session")
async def notification_service(settings: PlatformSettings) -> AsyncIterator[NotificationService]:
    """The notifications service itself, to build test data as tenancy and the worker would."""
    db = Database(settings.core.login_url("notifications"))
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    yield NotificationService(db, redis, settings)
    await redis.aclose()
    await db.close()


@pytest.fixture(scope="session")
async def notifications(settings: PlatformSettings) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("notifications", settings):
        yield client


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn on a free local port (yielded) for the block's duration."""
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


def unique_slug() -> str:
    return f"org-{secrets.token_hex(4)}"


EPHEMERAL_PORTS_START = 32_768


def free_port_offset(ports: list[int]) -> int:
    """An offset that puts every one of ``ports`` on a free port below Linux's ephemeral range
    (32768+): there a client socket could take the port between this probe and the bind."""
    span = EPHEMERAL_PORTS_START - 10_000 - max(ports)
    for _ in range(200):
        offset = 10_000 + secrets.randbelow(span)
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return offset
    raise RuntimeError("no free ports")


async def until_worker_healthy(process: asyncio.subprocess.Process, port: int) -> None:
    """Until the worker process answers ``/health`` on ``port``: its imports, connections and
    start take seconds, and far longer on a loaded host."""
    async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(PROCESS_START_SECONDS):
        while True:
            assert process.returncode is None, f"the worker exited with {process.returncode}"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
