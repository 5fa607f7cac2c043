"""All fixture subgraphs behind one real HTTP server, counting requests and injecting faults;
`serve_app` serves any ASGI app so (the bare router too)."""

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
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
    abandoned: Counter[str] = field(default_factory=Counter)
    """Slow requests whose client went away before they were answered."""
    events: list[tuple[str, str]] = field(default_factory=list)
    """("arrived" or "answered", subgraph), in the order they happened."""

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
        self.server.events.append(("arrived", name))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.server.seen_headers.append((name, headers))
        fault = self.server.faults.get(name)
        if fault == "error":
            await _plain(send, 500, b"boom")
            return
        if fault == "slow":
            replayed = await _unless_left(receive)
            if replayed is None:
                self.server.abandoned[name] += 1
                return
            receive = replayed
        await app({**scope, "path": "/graphql"}, receive, send)
        self.server.events.append(("answered", name))


async def _unless_left(receive: Receive) -> Receive | None:
    """After SLOW_SECONDS, the request's body to read again; None when the client went away
    meanwhile."""
    body: list[Message] = [await receive()]
    while body[-1].get("more_body"):
        body.append(await receive())
    try:
        async with asyncio.timeout(SLOW_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        replay = iter(body)

        async def again() -> Message:
            return next(replay, None) or await receive()

        return again
    return None


async def _plain(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serve_app(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` on an ephemeral port of 127.0.0.1 (no lifespan); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve(sockets=[sock]))
    while not uvicorn_server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uvicorn_server.should_exit = True
        await task


@asynccontextmanager
async def serve_subgraphs() -> AsyncIterator[SubgraphServer]:
    server = SubgraphServer("")
    async with serve_app(_Subgraphs(server)) as base_url:
        server.base_url = base_url
        yield server
