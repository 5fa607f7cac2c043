"""What each ``vetrai`` command runs (``vetrai.cli`` parses the command line and imports this
module only to run one: every domain, the router and the embedded servers load with it)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from core.logs import configure_logging
from core.tracing import configure_tracing
from router.app import create_router
from router.compose import command as compose_command
from router.compose.compose import compose
from router.config import ConfigError, RouterConfig, load_config
from subgraphs.billing import command as billing_command
from subgraphs.kernel.migrations import MissingExtension, migrate
from vetrai import checks, docs
from vetrai.devstack import Stack, start_stack
from vetrai.platform import (
    DOMAINS,
    Service,
    all_migrations,
    composition_sources,
    domain,
    login_names,
    logins,
    services,
)
from vetrai.serve import serve
from vetrai.settings import PlatformSettings
from vetrai.worker import create_worker, monitoring_app, used_logins


def _say(message: str) -> None:
    print(f"vetrai: {message}", flush=True)


def _check(
    settings: PlatformSettings,
    *,
    database: bool = True,
    owner: bool = False,
    logins: list[str] | None = None,
    ports: list[int],
) -> None:
    """Exit with code 2, one line per problem, unless the configured servers answer, the
    owner's URL (``owner``) and those of ``logins`` are given in production, and every one of
    ``ports`` is free."""
    found = checks.problems(
        settings, database=database, owner=owner, logins=logins or [], ports=ports
    )
    for problem in found:
        print(f"vetrai: {problem}", file=sys.stderr)
    if found:
        sys.exit(2)


def _prepare(settings: PlatformSettings, *, migrations: bool, extras: bool = False) -> Stack:
    # in production a subgraph or the worker logs in with its own URLs, never the owner's
    embedded = migrations or settings.core.environment != "production"
    stack = start_stack(settings, say=_say, database=embedded, extras=extras)
    if migrations:
        _say("applying migrations")
        s = stack.settings
        assert s.core.database_url is not None  # noqa: S101 - start_stack always resolves it
        try:
            migrate(s.core.database_url, all_migrations(), logins(s))
        except MissingExtension as exc:
            stack.stop()
            print(f"vetrai: {exc}", file=sys.stderr)
            sys.exit(2)
    return stack


def _table(
    settings: PlatformSettings, services: list[Service], worker: bool, notes: dict[str, str]
) -> str:
    rows = [f"  {s.name:<14} http://{settings.core.host}:{s.port}/graphql" for s in services]
    rows += [f"  {name:<14} {note}" for name, note in notes.items()]
    if worker:
        port = settings.core.worker_port + settings.core.port_offset
        rows.append(
            f"  {'worker':<14} jobs from Redis queue {settings.core.queue_name};"
            f" http://{settings.core.host}:{port}/metrics"
        )
    return "\n".join(["", "VetrAI is running (Ctrl-C stops it):", *rows, ""])


def telemetry(settings: PlatformSettings, service: str) -> None:
    """What a command's process logs and traces: JSON lines at the configured level, and
    spans of ``service`` only when an OTLP endpoint is configured to export them to."""
    configure_logging(settings.core.log_level)
    configure_tracing(service, endpoint=settings.core.otel_exporter_otlp_endpoint)


def _run(
    settings: PlatformSettings,
    services: list[Service],
    *,
    worker: bool = False,
    notes: dict[str, str] | None = None,
) -> None:
    names = [s.name for s in services] + (["worker"] if worker else [])
    telemetry(settings, names[0] if len(names) == 1 else "vetrai")

    async def main() -> None:
        # ARQ binds its worker to the running loop: create it inside.
        background = [create_worker(settings)] if worker else []
        port = settings.core.worker_port + settings.core.port_offset
        monitoring = [Service("worker", port, monitoring_app(w)) for w in background]
        table = _table(settings, services, worker, notes or {})
        await serve([*services, *monitoring], settings.core.host, lambda: print(table), background)

    asyncio.run(main())


def _router_config(path: Path | None) -> RouterConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        sys.exit(f"vetrai: router configuration {exc}")


def _router_port(settings: PlatformSettings, port: int | None = None) -> int:
    return port or settings.router.router_port + settings.core.port_offset


def _router(
    settings: PlatformSettings,
    config: RouterConfig,
    supergraph_sdl: str,
    urls: dict[str, str] | None = None,
    port: int | None = None,
) -> Service:
    app = create_router(settings, supergraph_sdl, urls, config)
    return Service("router", _router_port(settings, port), app)


def cmd_up(args: argparse.Namespace, settings: PlatformSettings) -> None:
    from vetrai import mailbox  # only vetrai up serves the inbox: other commands skip aiosmtpd

    ports = [settings.router.router_port, settings.core.worker_port, *(d.port for d in DOMAINS)]
    config = _router_config(settings.router.router_config)
    every = [port + settings.core.port_offset for port in ports]
    _check(settings, owner=not args.no_migrate, logins=login_names(), ports=every)
    composed = compose(composition_sources())
    if composed.supergraph_sdl is None:
        sys.exit("vetrai: the subgraphs do not compose; run `vetrai compose` to see why")
    with _prepare(settings, migrations=not args.no_migrate, extras=True) as stack:
        s = stack.settings
        subgraphs = services(s)
        urls = {svc.name: f"http://{s.core.host}:{svc.port}/graphql" for svc in subgraphs}
        router = _router(s, config, composed.supergraph_sdl, urls)
        if stack.inbox:
            router = Service(router.name, router.port, mailbox.beside(router.app, stack.inbox))
        inbox = f"http://{s.core.host}:{router.port}{mailbox.PREFIX}" if stack.inbox else None
        _run(s, [router, *subgraphs], worker=True, notes=_notes(stack, inbox))


def _notes(stack: Stack, inbox: str | None) -> dict[str, str]:
    """Where the mail goes, which Stripe and which S3 the platform uses."""
    stripe, s3 = stack.embedded("stripe"), stack.embedded("s3")
    billing, storage = stack.settings.billing, stack.settings.storage
    notes = {"mail": f"{inbox} (the emails sent, caught)"} if inbox else {}
    if stripe:
        notes["stripe"] = f"{stripe} (the embedded test server; card 4242 4242 4242 4242)"
    elif billing.stripe_secret_key:
        api = billing.stripe_api_base or "https://api.stripe.com"
        notes["stripe"] = f"{api} (STRIPE_SECRET_KEY)"
    if s3:
        notes["s3"] = f"{s3} (the embedded SeaweedFS)"
    elif storage.minio_endpoint:
        notes["s3"] = f"{storage.minio_endpoint} (MINIO_ENDPOINT)"
    return notes


def cmd_router(args: argparse.Namespace, settings: PlatformSettings) -> None:
    if args.config:
        settings = settings.replace(router_config=args.config)
    port = _router_port(settings, args.port)
    config = _router_config(settings.router.router_config)
    _check(settings, database=False, ports=[port])
    with start_stack(settings, say=_say, database=False) as stack:
        s = stack.settings
        if not args.hot_reload:
            _run(s, [_router(s, config, args.supergraph.read_text(), port=port)])
            return
        app = create_router(s, args.supergraph.read_text(), config=config, watch=args.supergraph)
        _run(s, [Service("router", port, app)])


def cmd_subgraph(args: argparse.Namespace, settings: PlatformSettings) -> None:
    spec = domain(args.name)
    _check(settings, logins=[spec.name], ports=[args.port or spec.port + settings.core.port_offset])
    with _prepare(settings, migrations=False) as stack:
        _run(stack.settings, services(stack.settings, [spec], args.port))


def cmd_worker(_: argparse.Namespace, settings: PlatformSettings) -> None:
    port = settings.core.worker_port + settings.core.port_offset
    _check(settings, logins=used_logins(), ports=[port])
    with _prepare(settings, migrations=False) as stack:
        _run(stack.settings, [], worker=True)


def cmd_migrate(_: argparse.Namespace, settings: PlatformSettings) -> None:
    _check(settings, owner=True, logins=login_names(), ports=[])
    with _prepare(settings, migrations=True):
        _say("database is up to date")


def cmd_docs(args: argparse.Namespace, _: PlatformSettings) -> None:
    code = docs.run(check=args.check)
    if code:
        print(f"vetrai: {docs.GUIDE} is stale; run `vetrai docs` and commit it", file=sys.stderr)
    sys.exit(code)


def cmd_compose(args: argparse.Namespace, _: PlatformSettings) -> None:
    sources = None if args.config else composition_sources()
    sys.exit(compose_command.run(args, sources))


def cmd_billing(args: argparse.Namespace, settings: PlatformSettings) -> None:
    if args.action != "replay-events":
        sys.exit(billing_command.run(args, settings))
    with _prepare(settings, migrations=False) as stack:  # replaying needs the database
        code = billing_command.run(args, stack.settings)
    sys.exit(code)
