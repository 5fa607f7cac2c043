"""The workers subgraph (port 8008): its schema, services, approval pages, migrations and the
worker's jobs."""

from __future__ import annotations

from pathlib import Path

from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.workers.pages import ROUTES
from subgraphs.workers.schema import schema
from subgraphs.workers.service import JobService
from subgraphs.workers.settings import Settings
from subgraphs.workers.tasks import JOBS


def services(runtime: Runtime, settings: Settings) -> JobService:
    return JobService(runtime.db, runtime.redis, settings)


DOMAIN = Domain(
    name="workers",
    port=8008,
    schema=schema,
    services=services,
    routes=ROUTES,
    migrations=MigrationSet("workers", Path(__file__).parent / "migrations"),
    jobs=JOBS,
)
