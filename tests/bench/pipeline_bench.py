"""What the router's request pipeline costs above the bare federation edge: CPU per request and
resident memory of `vetrai router` (identity, limits, persisted queries, rate limits in Redis)
against `router.edge.create_app`, on the comparison benchmark's light and heavy operations.

Each system runs in a process of its own and is called as an ASGI app, with the subgraphs'
answers replayed from memory, so the figures are the router's own CPU time (process time, not
wall time: the machine may be shared). Run from the repository root:

    .venv/bin/python -m tests.bench.pipeline_bench [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Message

from router.app import create_router
from router.compose import Subgraph, compose
from router.config import RateLimits, RouterConfig, Window
from router.edge import create_app, relax_cycle_collector
from router.executor.client import SubgraphClient
from tests.bench.federation import OPERATIONS, SUBGRAPHS
from tests.bench.lean_subgraph import asgi_app
from vetrai.devstack import start_stack
from vetrai.settings import load_settings

SYSTEMS = ("edge", "router", "router-no-rate-limits")
ROUNDS = 5


class ReplayingClient(SubgraphClient):
    """Subgraph answers computed once by the in-memory subgraphs, then replayed (parsed from
    their JSON each time, as a real answer would be)."""

    def __init__(self) -> None:
        super().__init__({})
        self.apps: dict[str, ASGIApp] = {
            name: asgi_app(factory())  # type: ignore[misc]
            for name, factory in SUBGRAPHS.items()
        }
        self.answers: dict[tuple[str, bytes], bytes] = {}

    async def request(
        self,
        service: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        key = (service, orjson.dumps(body))
        if key not in self.answers:
            self.answers[key] = (await call(self.apps[service], key[1]))[1]
        answer: dict[str, Any] = orjson.loads(self.answers[key])
        return answer


async def call(app: ASGIApp, body: bytes) -> tuple[int, bytes]:
    """One POST /graphql through an ASGI app, in memory."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 4000),
        "state": {},
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def supergraph_sdl() -> str:
    sdls = {name: factory().sdl for name, factory in SUBGRAPHS.items()}
    subgraphs = [
        Subgraph(name=n, url=f"http://{n}.invalid/graphql", sdl=s) for n, s in sdls.items()
    ]
    sdl = compose(subgraphs).supergraph_sdl
    assert sdl is not None
    return sdl


def build(system: str, sdl: str, client: ReplayingClient) -> ASGIApp:
    if system == "edge":
        app = create_app(sdl)
        app.state.router.executor.client = client
        return app
    settings = start_stack(load_settings(), say=lambda _: None, database=False).settings
    # not development: answers there also carry their cost, which this does not measure
    update = {"jwks_url": "http://127.0.0.1:9/jwks.json", "environment": "test"}
    settings = settings.replace(**update)
    # the benchmark's heavy operation sits under the default cost limit
    limited = system == "router"
    config = RouterConfig(
        rate_limits=RateLimits(
            enabled=limited,
            namespace=f"bench-{secrets.token_hex(4)}",
            anonymous=Window(limit=10**9, window_seconds=60),
        )
    )
    app = create_router(settings, sdl, config=config)
    app.state.runtime.served.engine.executor.client = client
    return app


async def measure(system: str, operation: str, requests: int) -> dict[str, float]:
    sdl = supergraph_sdl()
    client = ReplayingClient()
    app = build(system, sdl, client)
    relax_cycle_collector()
    body = orjson.dumps({"query": OPERATIONS[operation]})
    for _ in range(50):  # warm: documents, plans, answers, identity
        status, answer = await call(app, body)
        if status != 200 or b'"errors"' in answer:
            raise RuntimeError(f"{system} answered {status}: {answer[:300]!r}")
    samples = []
    for _ in range(ROUNDS):
        gc.collect()
        started = time.process_time()
        for _ in range(requests):
            if (await call(app, body))[0] != 200:
                raise RuntimeError(f"{system} refused a request")
        samples.append((time.process_time() - started) / requests * 1e6)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, in MB
    return {"cpu_us": statistics.median(samples), "rss_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "OPERATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        figures = asyncio.run(measure(args.one[0], args.one[1], args.requests))
        print(orjson.dumps(figures).decode())
        return
    header = ("system", "operation", "CPU µs/request", "above edge", "peak RSS MB")
    print(f"{header[0]:24} {header[1]:9} {header[2]:>15} {header[3]:>11} {header[4]:>12}")
    for operation in ("light", "heavy"):
        edge = 0.0
        for system in SYSTEMS:
            requests = args.requests if operation == "light" else max(args.requests // 20, 50)
            output = subprocess.run(  # noqa: S603 - this very module
                [
                    sys.executable,
                    "-m",
                    "tests.bench.pipeline_bench",
                    "--one",
                    system,
                    operation,
                    "--requests",
                    str(requests),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            figures = orjson.loads(output.splitlines()[-1])
            edge = figures["cpu_us"] if system == "edge" else edge
            above = figures["cpu_us"] - edge
            print(
                f"{system:24} {operation:9} {figures['cpu_us']:15.1f} {above:11.1f} "
                f"{figures['rss_mb']:12.0f}"
            )


if __name__ == "__main__":
    main()
