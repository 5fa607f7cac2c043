"""The tenancy subgraph (port 8002): its schema, services and migrations."""

from __future__ import annotations

from pathlib import Path

from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.tenancy.schema import schema
from subgraphs.tenancy.service import TenancyService
from subgraphs.tenancy.settings import Settings


def services(runtime: Runtime, settings: Settings) -> TenancyService:
    return TenancyService(runtime.db, runtime.redis, settings)


DOMAIN = Domain(
    name="tenancy",
    port=8002,
    schema=schema,
    services=services,
    migrations=MigrationSet("tenancy", Path(__file__).parent / "migrations"),
)
