"""The tenancy subgraph (port 8002): its schema, migrations and ASGI app."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette

from subgraphs.kernel.app import Runtime, create_subgraph_app
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.tenancy.schema import schema
from subgraphs.tenancy.service import TenancyService
from subgraphs.tenancy.settings import Settings

MIGRATIONS = MigrationSet("tenancy", Path(__file__).parent / "migrations")

__all__ = ["MIGRATIONS", "create_app", "schema"]


def create_app(settings: Settings) -> Starlette:
    def services(runtime: Runtime) -> TenancyService:
        return TenancyService(runtime.db, runtime.redis, settings)

    return create_subgraph_app("tenancy", schema, settings.core, services)
