"""What the router's request pipeline costs above the bare federation edge: CPU per request and
resident memory of `vetrai router` (identity, limits, persisted queries, rate limits in Redis)
against `router.edge.create_app`, on the comparison benchmark's light and heavy operations.

Each system runs in a process of its own and is called as an ASGI app, with the subgraphs'
answers replayed from memory, so the figures are the router's own CPU time (process time, not
wall time: the machine may be shared). ``router-api-key`` is the router called with an API
key (its verification answered in memory, as keys and tenancy would), whose use is counted.
The router logs and traces as ``vetrai router`` does (the same function sets them up): a JSON
line per request, naming its operation, spans recorded only when an OTLP endpoint is configured.
Run from the repository root:

    .venv/bin/python -m tests.bench.pipeline_bench [--requests N] [--instructions] [--concurrency N]

``--instructions`` runs each system under callgrind (valgrind must be installed) and prints the
instructions per warm request instead: a change shows in them without the noise of a busy
machine. ``--concurrency N`` makes the requests N at a time, as a loaded router has them (their
rate-limit scripts then share round trips to Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
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

SYSTEMS = ("edge", "router", "router-no-rate-limits", "router-api-key")
ROUNDS = 5
API_KEY = "vetrai_bench-" + secrets.token_urlsafe(16)
UNLIMITED = Window(limit=10**9, window_seconds=60)


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


async def call(
    app: ASGIApp, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, bytes]:
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
            *(headers or []),
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


def key_answers(org_id: str) -> httpx.MockTransport:
    """What keys' verification route and tenancy answer the router for ``API_KEY``."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "keys.invalid":
            return httpx.Response(
                200,
                json={
                    "key_id": str(uuid4()),
                    "org_id": org_id,
                    "scopes": [],
                    "created_by": str(uuid4()),
                    "rate_limit": UNLIMITED.model_dump(),
                },
            )
        membership = {"id": org_id, "plan": "free", "viewerRole": "ADMIN"}
        return httpx.Response(200, json={"data": {"organization": membership}})

    return httpx.MockTransport(answer)


def build(system: str, sdl: str, client: ReplayingClient) -> ASGIApp:
    if system == "edge":
        app = create_app(sdl)
        app.state.router.executor.client = client
        return app
    from vetrai.commands import telemetry  # the platform's commands: not the edge's to load

    settings = start_stack(load_settings(), say=lambda _: None, database=False).settings
    telemetry(settings, "router")  # logs and traces as `vetrai router` has them
    # not development: answers there also carry their cost, which this does not measure
    update = {"jwks_url": "http://127.0.0.1:9/jwks.json", "environment": "test"}
    settings = settings.replace(**update)
    # the benchmark's heavy operation sits under the default cost limit
    org_id = str(uuid4())
    config = RouterConfig(
        rate_limits=RateLimits(
            enabled=system != "router-no-rate-limits",
            namespace=f"bench-{secrets.token_hex(4)}",
            anonymous=UNLIMITED,
            organizations={org_id: UNLIMITED},
        )
    )
    urls = {"keys": "http://keys.invalid/graphql", "tenancy": "http://tenancy.invalid/graphql"}
    app = create_router(settings, sdl, urls, config=config)
    app.state.runtime.served.engine.executor.client = client
    if system == "router-api-key":
        authenticator = app.state.pipeline.authenticator
        authenticator._http = httpx.AsyncClient(transport=key_answers(org_id))
    return app


async def measure(
    system: str, operation: str, requests: int, instructions: bool = False, concurrency: int = 1
) -> dict[str, float]:
    """CPU µs per request (the median of ``ROUNDS``) and peak RSS; with ``instructions``, one
    round with callgrind collecting only while it runs (the process runs under callgrind);
    ``concurrency`` requests at a time."""
    sdl = supergraph_sdl()
    client = ReplayingClient()
    app = build(system, sdl, client)
    relax_cycle_collector()
    body = orjson.dumps({"query": OPERATIONS[operation]})
    headers = [(b"x-api-key", API_KEY.encode())] if system == "router-api-key" else []
    for _ in range(50):  # warm: documents, plans, answers, identity
        status, answer = await call(app, body, headers)
        if status != 200 or b'"errors"' in answer:
            raise RuntimeError(f"{system} answered {status}: {answer[:300]!r}")
    samples = []
    for _ in range(1 if instructions else ROUNDS):
        gc.collect()
        if instructions:
            collect("on")
        started = time.process_time()
        for first in range(0, requests, concurrency):
            statuses = await calls(app, body, headers, min(concurrency, requests - first))
            if any(status != 200 for status in statuses):
                raise RuntimeError(f"{system} refused a request")
        samples.append((time.process_time() - started) / requests * 1e6)
        if instructions:
            collect("off")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, in MB
    return {"cpu_us": statistics.median(samples), "rss_mb": rss}


async def calls(
    app: ASGIApp, body: bytes, headers: list[tuple[bytes, bytes]], at_once: int
) -> list[int]:
    """The statuses of ``at_once`` requests made together; one alone is awaited as it is, not
    in a task of its own (which would cost more than some of the stages measured)."""
    if at_once == 1:
        return [(await call(app, body, headers))[0]]
    answers = await asyncio.gather(*(call(app, body, headers) for _ in range(at_once)))
    return [status for status, _ in answers]


def collect(state: str) -> None:
    """Turn callgrind's collection in this process on or off."""
    subprocess.run(  # noqa: S603 - fixed command
        ["callgrind_control", "-i", state, str(os.getpid())],  # noqa: S607
        check=True,
        capture_output=True,
    )


def run_one(
    system: str, operation: str, requests: int, instructions: bool, concurrency: int = 1
) -> dict[str, float]:
    """CPU µs per request and peak RSS of ``system`` in a process of its own, or its
    instructions per request under callgrind."""
    one = [
        *("-m", "tests.bench.pipeline_bench", "--one", system, operation),
        *("--requests", str(requests), "--concurrency", str(concurrency)),
    ]
    if not instructions:
        output = subprocess.run(  # noqa: S603 - this very module
            [sys.executable, *one], capture_output=True, text=True, check=True
        ).stdout
        figures: dict[str, float] = orjson.loads(output.splitlines()[-1])
        return figures
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(  # noqa: S603 - this very module under callgrind
            [
                *("valgrind", "--tool=callgrind", "--instr-atstart=no"),
                f"--callgrind-out-file={out}",
                *(sys.executable, *one, "--instructions"),
            ],
            capture_output=True,
            check=True,
        )
        found = re.search(r"^totals:\s*(\d+)", out.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"callgrind counted nothing for {system}")
    return {"instructions": int(found.group(1)) / requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--concurrency", type=int, default=1, help="requests at a time")
    parser.add_argument("--operations", nargs="+", default=["light", "heavy"])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS))
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "OPERATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        figures = asyncio.run(
            measure(args.one[0], args.one[1], args.requests, args.instructions, args.concurrency)
        )
        print(orjson.dumps(figures).decode())
        return
    unit = "k instr/request" if args.instructions else "CPU µs/request"
    print(f"{'system':24} {'operation':9} {unit:>16} {'above edge':>11} {'peak RSS MB':>12}")
    for operation in args.operations:
        edge = 0.0
        for system in args.systems:
            requests = args.requests if operation == "light" else max(args.requests // 20, 50)
            figures = run_one(system, operation, requests, args.instructions, args.concurrency)
            figure = figures["instructions"] / 1000 if args.instructions else figures["cpu_us"]
            edge = figure if system == "edge" else edge
            rss = "" if args.instructions else f"{figures['rss_mb']:12.0f}"
            print(
                f"{system:24} {operation:9} {figure:16.1f} {figure - edge:11.1f} {rss}", flush=True
            )


if __name__ == "__main__":
    main()
