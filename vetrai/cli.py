"""The ``vetrai`` command line. Parsing it loads no domain, so ``--help`` and a mistyped
command answer at once; ``vetrai.commands`` is imported to run the command chosen."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from core.settings import SettingsError
from router.compose import command as compose_command
from subgraphs import DOMAIN_NAMES
from subgraphs.billing import command as billing_command
from vetrai import docs
from vetrai.settings import load_settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="vetrai", description="The VetrAI platform.")
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up", help="run every subgraph (embedded PostgreSQL/Redis unless configured)"
    )
    up.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    up.set_defaults(run="up")
    one = commands.add_parser("subgraph", help="run one subgraph")
    one.add_argument("name", choices=DOMAIN_NAMES)
    one.add_argument("--port", type=int, help="default: the subgraph's own port")
    one.set_defaults(run="subgraph")
    work = commands.add_parser(
        "worker", help="run the ARQ worker (notification delivery, background jobs)"
    )
    work.set_defaults(run="worker")
    mig = commands.add_parser("migrate", help="apply database migrations")
    mig.set_defaults(run="migrate")
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
    router.add_argument("--port", type=int, help="default: ROUTER_PORT plus VETRAI_PORT_OFFSET")
    router.add_argument(
        "--hot-reload", action="store_true", help="serve a changed supergraph file at once"
    )
    router.set_defaults(run="router")
    comp = commands.add_parser(
        "compose",
        help="compose the subgraphs (the platform's, or those of --config) into schema/",
    )
    compose_command.add_arguments(comp)
    comp.set_defaults(run="compose")
    guide = commands.add_parser("docs", help=f"write the API guide's reference into {docs.GUIDE}")
    guide.add_argument("--check", action="store_true", help="only fail if it is stale")
    guide.set_defaults(run="docs")
    billing = commands.add_parser(
        "billing", help="billing: sync-plans (to Stripe), replay-events (missed ones)"
    )
    billing_command.add_arguments(billing)
    billing.set_defaults(run="billing")
    return root


def _terminate(*_: object) -> None:
    # As Ctrl-C: unwinds, so the embedded servers are released (serving installs its own).
    sys.exit(128 + signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    from vetrai import commands

    try:
        getattr(commands, f"cmd_{args.run}")(args, load_settings())
    except SettingsError as exc:
        print(f"vetrai: {exc}", file=sys.stderr)
        sys.exit(2)
