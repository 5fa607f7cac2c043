"""A changed supergraph file is served without a restart; a broken one is not."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from router.edge import create_app
from router.reload import HotReload

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests/router/fedfixtures/data/supergraph.graphql"
PLATFORM = ROOT / "schema/supergraph.graphql"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    path = tmp_path / "supergraph.graphql"
    path.write_text(FIXTURE.read_text())
    app = HotReload(path, lambda sdl: create_app(sdl, subgraph_timeout=0.5), interval=0.05)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    yield path, f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"
    server.should_exit = True
    await task


async def _codes(url: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        body = (await client.post(url, json={"query": "{ currentOrganization { id } }"})).json()
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def _eventually(url: str, expected: list[str]) -> None:
    for _ in range(100):
        if await _codes(url) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {await _codes(url)}")


async def test_changed_supergraph_is_served_and_broken_one_ignored(
    served: tuple[Path, str],
) -> None:
    path, url = served
    assert await _codes(url) == ["GRAPHQL_VALIDATION_FAILED"]
    path.write_text(PLATFORM.read_text())
    await _eventually(url, ["SUBGRAPH_ERROR"])
    path.write_text("type Query {")
    await asyncio.sleep(0.3)
    assert await _codes(url) == ["SUBGRAPH_ERROR"]
