"""The ``vetrai`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from router.app import create_router
from router.compose import command as compose_command
from router.compose.compose import compose
from router.config import ConfigError, RouterConfig, load_config
from router.reload import HotReload
from subgraphs.billing import command as billing_command
from subgraphs.kernel.logs import configure_logging
from subgraphs.kernel.migrations import migrate
from subgraphs.kernel.settings import Settings, SettingsError, load_settings
from subgraphs.kernel.tracing import configure_tracing
from vetrai.devstack import Stack, start_stack
from vetrai.platform import (
    SUBGRAPHS,
    SubgraphSpec,
    all_migrations,
    composition_sources,
    subgraph,
)
from vetrai.serve import Service, serve
from vetrai.worker import create_worker, monitoring_app


def _say(message: str) -> None:
    print(f"vetrai: {message}", flush=True)


def _prepare(settings: Settings, *, migrations: bool) -> Stack:
    stack = start_stack(settings, say=_say)
    if migrations:
        _say("applying migrations")
        s = stack.settings
        assert s.database_url is not None  # noqa: S101 - start_stack always resolves it
        migrate(s.database_url, s.database_app_role, all_migrations())
    return stack


def _services(settings: Settings, specs: list[SubgraphSpec], port: int | None) -> list[Service]:
    return [
        Service(
            spec.name, port or spec.port + settings.port_offset, spec.module.create_app(settings)
        )
        for spec in specs
    ]


def _table(settings: Settings, services: list[Service], worker: bool) -> str:
    rows = [f"  {s.name:<14} http://{settings.host}:{s.port}/graphql" for s in services]
    if worker:
        port = settings.worker_port + settings.port_offset
        rows.append(
            f"  {'worker':<14} jobs from Redis queue {settings.queue_name};"
            f" http://{settings.host}:{port}/metrics"
        )
    return "\n".join(["", "VetrAI is running (Ctrl-C stops it):", *rows, ""])


def _run(settings: Settings, services: list[Service], *, worker: bool = False) -> None:
    configure_logging(settings.log_level)
    names = [s.name for s in services] + (["worker"] if worker else [])
    service = names[0] if len(names) == 1 else "vetrai"
    configure_tracing(service, endpoint=settings.otel_exporter_otlp_endpoint)

    async def main() -> None:
        # ARQ binds its worker to the running loop: create it inside.
        background = [create_worker(settings)] if worker else []
        port = settings.worker_port + settings.port_offset
        monitoring = [Service("worker", port, monitoring_app(w)) for w in background]
        table = _table(settings, services, worker)
        await serve([*services, *monitoring], settings.host, lambda: print(table), background)

    asyncio.run(main())


def _router_config(path: Path | None) -> RouterConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        sys.exit(f"vetrai: router configuration {exc}")


def _router(settings: Settings, supergraph_sdl: str, urls: dict[str, str] | None = None) -> Service:
    port = settings.router_port + settings.port_offset
    config = _router_config(settings.router_config)
    return Service("router", port, create_router(settings, supergraph_sdl, urls, config))


def cmd_up(args: argparse.Namespace, settings: Settings) -> None:
    stack = _prepare(settings, migrations=not args.no_migrate)
    s = stack.settings
    subgraphs = _services(s, SUBGRAPHS, None)
    composed = compose(composition_sources())
    if composed.supergraph_sdl is None:
        sys.exit("vetrai: the subgraphs do not compose; run `vetrai compose` to see why")
    urls = {svc.name: f"http://{s.host}:{svc.port}/graphql" for svc in subgraphs}
    _run(s, [_router(s, composed.supergraph_sdl, urls), *subgraphs], worker=True)


def cmd_router(args: argparse.Namespace, settings: Settings) -> None:
    if args.config:
        settings = settings.model_copy(update={"router_config": args.config})
    settings = start_stack(settings, say=_say, database=False).settings
    if not args.hot_reload:
        _run(settings, [_router(settings, args.supergraph.read_text())])
        return
    config = _router_config(settings.router_config)
    app = HotReload(args.supergraph, lambda sdl: create_router(settings, sdl, config=config))
    _run(settings, [Service("router", settings.router_port + settings.port_offset, app)])


def cmd_subgraph(args: argparse.Namespace, settings: Settings) -> None:
    stack = _prepare(settings, migrations=False)
    _run(stack.settings, _services(stack.settings, [subgraph(args.name)], args.port))


def cmd_worker(_: argparse.Namespace, settings: Settings) -> None:
    stack = _prepare(settings, migrations=False)
    _run(stack.settings, [], worker=True)


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> None:
    _prepare(settings, migrations=True)
    _say("database is up to date")


def cmd_compose(args: argparse.Namespace, _: Settings) -> None:
    sources = None if args.config else composition_sources()
    sys.exit(compose_command.run(args, sources))


def cmd_billing(args: argparse.Namespace, settings: Settings) -> None:
    sys.exit(billing_command.run(args, settings))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="vetrai", description="The VetrAI platform.")
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up", help="run every subgraph (embedded PostgreSQL/Redis unless configured)"
    )
    up.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    up.set_defaults(run=cmd_up)
    one = commands.add_parser("subgraph", help="run one subgraph")
    one.add_argument("name", choices=[s.name for s in SUBGRAPHS])
    one.add_argument("--port", type=int, help="default: the subgraph's own port")
    one.set_defaults(run=cmd_subgraph)
    work = commands.add_parser(
        "worker", help="run the ARQ worker (notification delivery, background jobs)"
    )
    work.set_defaults(run=cmd_worker)
    mig = commands.add_parser("migrate", help="apply database migrations")
    mig.set_defaults(run=cmd_migrate)
    router = commands.add_parser("router", help="run the router over running subgraphs")
    router.add_argument(
        "--supergraph",
        type=Path,
        default=Path("schema/supergraph.graphql"),
        help="supergraph SDL (default: schema/supergraph.graphql)",
    )
    router.add_argument(
        "--config", type=Path, help="router configuration (YAML; default: ROUTER_CONFIG)"
    )
    router.add_argument(
        "--hot-reload", action="store_true", help="serve a changed supergraph file at once"
    )
    router.set_defaults(run=cmd_router)
    comp = commands.add_parser(
        "compose",
        help="compose the subgraphs (the platform's, or those of --config) into schema/",
    )
    compose_command.add_arguments(comp)
    comp.set_defaults(run=cmd_compose)
    billing = commands.add_parser("billing", help="billing: sync-plans (to Stripe)")
    billing_command.add_arguments(billing)
    billing.set_defaults(run=cmd_billing)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"vetrai: {exc}")
    args.run(args, settings)
