"""The support subgraph (port 8005): its schema, services, migrations and jobs."""

from __future__ import annotations

from pathlib import Path

from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.storage import Storage
from subgraphs.support.schema import schema
from subgraphs.support.service import SupportService
from subgraphs.support.settings import Settings
from subgraphs.support.tasks import JOBS

# similar tickets are found by their embeddings, in pgvector
PGVECTOR = (
    "install pgvector on that server (Debian: postgresql-<version>-pgvector; compose's"
    " pgvector/pgvector image has it), or leave DATABASE_URL unset for the embedded server"
)


def services(runtime: Runtime, settings: Settings) -> SupportService:
    storage = Storage.from_settings(settings.storage) if settings.storage.minio_endpoint else None
    return SupportService(runtime.db, runtime.redis, settings, storage)


DOMAIN = Domain(
    name="support",
    port=8005,
    schema=schema,
    services=services,
    migrations=MigrationSet(
        "support",
        Path(__file__).parent / "migrations",
        extensions={"vector": PGVECTOR},
    ),
    jobs=JOBS,
)
