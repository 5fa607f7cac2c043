"""A domain joins the platform through the registry alone: `vetrai up` serves its subgraph
and composes it into the supergraph, and the worker runs its jobs, cron and hooks included."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from arq.connections import ArqRedis
from arq.worker import Function, func
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.types import Info

from core.settings import CoreSettings
from router.compose.compose import compose
from router.settings import RouterSettings
from subgraphs.kernel.app import Runtime
from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Domain, JobContext, Jobs
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.schema import federated_schema
from tests.conftest import served
from vetrai import platform
from vetrai import worker as workers
from vetrai.settings import PlatformSettings


class Greeter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def greeting(self) -> str:
        return f"hello from {self.runtime.name}"


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self, info: Info) -> str:
        greeter: Greeter = info.context.services
        return greeter.greeting()


async def ping(request: Request) -> JSONResponse:
    greeter: Greeter = request.app.state.services
    return JSONResponse({"greeting": greeter.greeting()})


async def greet(ctx: JobContext, key: str) -> None:
    redis: Redis = ctx["redis"]
    await redis.set(key, ctx["greeter"])


async def startup(ctx: JobContext, settings: Any, db: Database) -> None:
    ctx["greeter"] = "started"


async def shutdown(ctx: JobContext) -> None:
    await ctx["redis"].set(ctx["shutdown_key"], "stopped")


def functions(_: Any) -> list[Function]:
    return [func(greet, name="greetings.greet")]


def greetings(tmp_path: Path) -> Domain:
    return Domain(
        name="greetings",
        port=8090,
        schema=federated_schema(Query),
        services=lambda runtime, _: Greeter(runtime),
        migrations=MigrationSet("greetings", tmp_path),
        routes=[Route("/ping", ping)],
        jobs=Jobs(functions=functions, startup=startup, shutdown=shutdown),
    )


def with_login(settings: PlatformSettings) -> PlatformSettings:
    """The fixture domain logs in as themes' role: its migrations would make it one of its own,
    but it has no tables to grant."""
    logins = settings.core.database_logins
    return settings.replace(database_logins={**logins, "greetings": logins["themes"]})


@pytest.fixture
def registered(tmp_path: Path) -> Iterator[Domain]:
    """The fixture domain in the platform's registry for one test."""
    added = greetings(tmp_path)
    platform.DOMAINS.append(added)
    yield added
    platform.DOMAINS.remove(added)


async def test_a_registered_domain_is_served_and_composed_by_vetrai_up(
    settings: PlatformSettings, registered: Domain
) -> None:
    [service] = [s for s in platform.services(with_login(settings)) if s.name == "greetings"]
    assert service.port == 8090 + settings.core.port_offset
    async with served(service.app) as port, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{port}"
        answer = await client.post(f"{base}/graphql", json={"query": "{ greeting }"})
        pinged = await client.get(f"{base}/ping")
    await service.app.state.runtime.db.close()  # type: ignore[attr-defined]
    await service.app.state.runtime.redis.aclose()  # type: ignore[attr-defined]
    assert answer.json() == {"data": {"greeting": "hello from greetings"}}
    assert pinged.json() == {"greeting": "hello from greetings"}
    composed = compose(platform.composition_sources())
    assert composed.supergraph_sdl is not None
    assert "GREETINGS" in composed.supergraph_sdl
    assert registered.migrations in platform.all_migrations()


async def test_the_worker_runs_a_registered_domains_jobs_and_hooks(
    settings: PlatformSettings, registered: Domain
) -> None:
    own = with_login(settings).replace(queue_name=f"vetrai:test:{secrets.token_hex(6)}")
    assert own.core.redis_url
    redis = ArqRedis.from_url(own.core.redis_url)
    key, stopped = f"test:greet:{secrets.token_hex(4)}", f"test:stop:{secrets.token_hex(4)}"
    await redis.enqueue_job("greetings.greet", key, _queue_name=own.core.queue_name)
    worker = workers.create_worker(own, burst=True, poll_delay=0.01)
    worker.ctx["shutdown_key"] = stopped
    await workers.run(worker)
    assert await redis.get(key) == b"started"
    assert await redis.get(stopped) == b"stopped"
    await redis.delete(key, stopped)
    await redis.aclose()


def test_every_domain_has_a_port_no_other_process_listens_on() -> None:
    others = {
        "router": RouterSettings.model_fields["router_port"].default,
        "worker": CoreSettings.model_fields["worker_port"].default,
    }
    ports = [*others.values(), *(d.port for d in platform.DOMAINS)]
    assert sorted(ports) == sorted(set(ports))
