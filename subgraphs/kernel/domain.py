"""What a domain declares once, for every process that runs it: its subgraph (name, port,
schema, services, extra routes), its migrations and its worker jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from arq.cron import CronJob
from arq.worker import Function, Retry
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from strawberry.federation import Schema

from subgraphs.kernel.app import Runtime, create_subgraph_app
from subgraphs.kernel.db import Database
from subgraphs.kernel.migrations import MigrationSet

# ARQ's job context: Redis under "redis", and what each domain's startup puts there.
JobContext = dict[str, Any]


def _none(_: Any) -> list[Any]:
    return []


@asynccontextmanager
async def retried_if_unavailable(ctx: JobContext) -> AsyncIterator[None]:
    """The database or Redis may be back soon: try the job again later rather than lose it."""
    try:
        yield
    except (DBAPIError, RedisError, OSError) as exc:
        raise Retry(defer=ctx["job_try"] * 2) from exc


@dataclass(frozen=True)
class Jobs:
    """A domain's share of the worker; ``settings`` is the process's settings object."""

    functions: Callable[[Any], Sequence[Function]] = _none
    cron: Callable[[Any], Sequence[CronJob]] = _none
    startup: Callable[[JobContext, Any, Database], Awaitable[None]] | None = None
    shutdown: Callable[[JobContext], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Domain:
    """One subgraph of the platform. ``services(runtime, settings)`` is what resolvers get as
    ``info.context.services`` and extra ``routes`` as ``request.app.state.services``."""

    name: str
    port: int
    schema: Schema
    services: Callable[[Runtime, Any], object]
    migrations: MigrationSet
    routes: Sequence[BaseRoute] = ()
    jobs: Jobs = field(default_factory=Jobs)
    pool_size: int = 5  # the subgraph's database connections kept open

    def create_app(self, settings: Any) -> Starlette:
        """The subgraph's ASGI app; ``settings`` must carry resolved database/Redis URLs."""
        return create_subgraph_app(
            self.name,
            self.schema,
            settings.core,
            lambda runtime: self.services(runtime, settings),
            self.routes,
            self.pool_size,
        )
