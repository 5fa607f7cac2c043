"""A changed supergraph file is served without a restart, a broken one is not, and swapping
supergraphs leaves no connection or task of the old ones behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from router.app import create_router
from router.config import RateLimits, RouterConfig
from tests.router.fedfixtures.operations import operation
from tests.router.fedfixtures.server import SubgraphServer
from tests.router.platform.conftest import served
from vetrai.settings import PlatformSettings

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests/router/fedfixtures/data/supergraph.graphql"
PLATFORM = ROOT / "schema/supergraph.graphql"
DEADLINE = 10.0


def _router(settings: PlatformSettings, path: Path, urls: dict[str, str]) -> Starlette:
    offline = settings.replace(jwks_url="http://127.0.0.1:9/jwks.json")
    config = RouterConfig(rate_limits=RateLimits(enabled=False), subgraph_timeout_seconds=1.0)
    return create_router(offline, path.read_text(), urls, config, watch=path, watch_interval=0.02)


@pytest.fixture
async def reloading(
    settings: PlatformSettings, subgraphs: SubgraphServer, tmp_path: Path
) -> AsyncIterator[tuple[Path, Starlette, httpx.AsyncClient]]:
    path = tmp_path / "supergraph.graphql"
    path.write_text(FIXTURE.read_text())
    app = _router(settings, path, subgraphs.urls())
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield path, app, client


async def _codes(client: httpx.AsyncClient) -> list[str]:
    response = await client.post("/graphql", json={"query": "{ currentOrganization { id } }"})
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


async def _until(condition: Callable[[], bool], seconds: float = DEADLINE) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


async def test_changed_supergraph_is_served_and_broken_one_ignored(
    reloading: tuple[Path, Starlette, httpx.AsyncClient],
) -> None:
    path, app, client = reloading
    assert await _codes(client) == ["GRAPHQL_VALIDATION_FAILED"]
    before = app.state.runtime.served
    path.write_text(PLATFORM.read_text())
    await _until(lambda: app.state.runtime.served is not before)
    # The platform's supergraph brings its access rules: an anonymous caller is refused.
    assert await _codes(client) == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    serving = app.state.runtime.served
    path.write_text("type Query {")
    await asyncio.sleep(0.2)  # several watch intervals: the broken file is read and refused
    assert app.state.runtime.served is serving
    assert await _codes(client) == ["UNAUTHORIZED_FIELD_OR_TYPE"]


def _sockets() -> int:
    """Open sockets of this process (Linux)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in os.listdir(fds) if _link(fds / fd).startswith("socket:"))


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed since it was listed
        return ""


async def test_fifty_swaps_leave_no_connection_or_task_behind(
    reloading: tuple[Path, Starlette, httpx.AsyncClient],
) -> None:
    path, app, client = reloading
    body = {"query": operation("provides")}

    async def answered() -> None:
        response = await client.post("/graphql", json=body)
        assert response.status_code == 200
        assert "errors" not in response.json()

    await answered()
    sockets, tasks = _sockets(), asyncio.all_tasks()
    for swap in range(50):
        before = app.state.runtime.served
        path.write_text(f"{FIXTURE.read_text()}\n# version {swap}\n")
        await _until(lambda: app.state.runtime.served is not before)  # noqa: B023 - awaited here
        assert before.engine.executor.client is not app.state.runtime.served.engine.executor.client
        await answered()
    # closed sockets go within a loop iteration or two; well before the subgraph server
    # would drop idle keep-alive connections itself (5 s)
    await _until(lambda: _sockets() <= sockets, seconds=1.0)
    assert _started_since(tasks) == set()


def _started_since(tasks: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """The tasks of this loop started since ``tasks`` were listed and still running, but for
    the session's worker (arq), which shares the loop and starts a task for each job it takes,
    its cron's included, whenever they come."""
    return {
        task
        for task in asyncio.all_tasks() - tasks
        if "/arq/" not in getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "")
    }
