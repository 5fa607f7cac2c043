"""All fixture subgraphs behind one real HTTP server, counting requests and injecting faults."""

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from tests.router.fedfixtures.subgraphs import SCHEMAS

SLOW_SECONDS = 1.5


@dataclass
class SubgraphServer:
    base_url: str
    requests: Counter[str] = field(default_factory=Counter)
    faults: dict[str, str] = field(default_factory=dict)
    """Per subgraph: "error" answers HTTP 500, "slow" waits SLOW_SECONDS first."""
    seen_headers: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}/graphql"

    def urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in SCHEMAS}


class _Subgraphs:
    def __init__(self, server: SubgraphServer) -> None:
        self.server = server
        self.apps: dict[str, ASGIApp] = {name: GraphQL(schema) for name, schema in SCHEMAS.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        name = scope["path"].strip("/").split("/")[0]
        app = self.apps.get(name)
        if app is None:
            await _plain(send, 404, b"no such subgraph")
            return
        self.server.requests[name] += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.server.seen_headers.append((name, headers))
        fault = self.server.faults.get(name)
        if fault == "error":
            await _plain(send, 500, b"boom")
            return
        if fault == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        await app({**scope, "path": "/graphql"}, receive, send)


async def _plain(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serve_subgraphs() -> AsyncIterator[SubgraphServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = SubgraphServer(f"http://127.0.0.1:{port}")
    config = uvicorn.Config(_Subgraphs(server), log_level="warning", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve(sockets=[sock]))
    while not uvicorn_server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        uvicorn_server.should_exit = True
        await task
