"""The notifications subgraph (port 8007): its schema, migrations and ASGI app."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette

from subgraphs.kernel.app import Runtime, create_subgraph_app
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.settings import Settings
from subgraphs.notifications.channels import senders
from subgraphs.notifications.schema import schema
from subgraphs.notifications.service import NotificationService

MIGRATIONS = MigrationSet("notifications", Path(__file__).parent / "migrations")

__all__ = ["MIGRATIONS", "create_app", "schema"]


def create_app(settings: Settings) -> Starlette:
    def services(runtime: Runtime) -> NotificationService:
        # The subgraph only stores and queues; the worker does the sending.
        return NotificationService(
            runtime.db, runtime.redis, settings, senders(settings, httpx.AsyncClient())
        )

    return create_subgraph_app("notifications", schema, settings, services)
