"""The registry of the platform's domains: every process (``vetrai up|subgraph|worker|migrate|
compose``), the compose file and the Helm chart derive from ``DOMAINS``."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from router.compose.subgraph import Subgraph
from subgraphs import DOMAIN_NAMES, kernel
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import Login, MigrationSet, role_of, schema_rights
from subgraphs.kernel.outbox import relay_rights, writer_rights
from vetrai.settings import PlatformSettings

DOMAINS: list[Domain] = [
    importlib.import_module(f"subgraphs.{name}.app").DOMAIN for name in DOMAIN_NAMES
]


def load_workflows(domains: Sequence[Domain] = DOMAINS) -> None:
    """Import each domain's ``workflows`` module, where its workflows register themselves, so
    the workers subgraph lists them and ``vetrai worker`` runs them."""
    for found in domains:
        module = f"subgraphs.{found.name}.workflows"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


load_workflows()


@dataclass(frozen=True)
class Service:
    """One server of a platform process."""

    name: str
    port: int
    app: ASGIApp


def domain(name: str, domains: Sequence[Domain] = DOMAINS) -> Domain:
    for found in domains:
        if found.name == name:
            return found
    raise KeyError(name)


def services(
    settings: PlatformSettings, domains: Sequence[Domain] = DOMAINS, port: int | None = None
) -> list[Service]:
    """The subgraphs' servers, each on its port (or ``port``) plus the port offset."""
    offset = settings.core.port_offset
    return [Service(d.name, port or d.port + offset, d.create_app(settings)) for d in domains]


def composition_sources(
    host: str = "localhost", domains: Sequence[Domain] = DOMAINS
) -> list[Subgraph]:
    """Each subgraph's SDL, straight from its Strawberry schema, with its routing URL."""
    return [Subgraph(d.name, f"http://{host}:{d.port}/graphql", d.schema.as_str()) for d in domains]


# The kernel's outbox (its first table, of emails, was retired for the notifications service).
OUTBOX_MIGRATIONS = MigrationSet("outbox", Path(kernel.__file__).parent / "outbox_migrations")


def all_migrations(domains: Sequence[Domain] = DOMAINS) -> list[MigrationSet]:
    return [OUTBOX_MIGRATIONS, *(d.migrations for d in domains)]


# The login of the worker's outbox relay, beside one per domain.
RELAY = "outbox"


def login_names(domains: Sequence[Domain] = DOMAINS) -> list[str]:
    """Every login the platform connects with: ``vetrai_<name>`` logs in with
    ``<NAME>_DATABASE_URL``."""
    return [*(d.name for d in domains), RELAY]


def logins(settings: PlatformSettings, domains: Sequence[Domain] = DOMAINS) -> list[Login]:
    """Every login with its rights: a domain's role its own schema and the outbox's staging;
    the relay's the outbox alone."""
    urls = settings.core.database_logins
    found = []
    for d in domains:
        role = role_of(d.name)
        rights = schema_rights(d.migrations.schema, role) + writer_rights(role)
        found.append(Login(d.name, rights, urls.get(d.name)))
    return [*found, Login(RELAY, relay_rights(role_of(RELAY)), urls.get(RELAY))]
