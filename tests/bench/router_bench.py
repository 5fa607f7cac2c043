"""Router costs on the router test fixtures: cold planning, cached-plan lookup, the router's own
CPU per request (subgraph answers replayed from memory) and HTTP throughput over real subgraphs.

Run with `.venv/bin/python -m tests.bench.router_bench` from the repository root; not part of CI.
The throughput figure runs router, subgraphs and load generator on the same machine, so it is
only a rough figure; the replayed CPU cost per request is the steadier one.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from graphql import parse

from router.edge import create_app
from router.executor.client import SubgraphClient
from router.executor.execute import Executor
from router.planner.planner import QueryPlanner
from router.supergraph import Supergraph
from tests.router.fedfixtures.operations import operation
from tests.router.fedfixtures.server import serve_subgraphs
from tests.router.fedfixtures.subgraphs import DATA_DIR, SCHEMAS

OPERATIONS = ["provides", "entity_chain", "requires", "interface_object", "compound_key"]
SUPERGRAPH_SDL = (DATA_DIR / "supergraph.graphql").read_text()


def per_call_us(function: Any, repeat: int) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        samples.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(samples)


def planning() -> None:
    supergraph = Supergraph(SUPERGRAPH_SDL)
    print(f"{'operation':18} {'cold plan µs':>13} {'cached µs':>10}")
    for name in OPERATIONS:
        source = operation(name)
        cold, cached = _plan_costs(supergraph, source)
        print(f"{name:18} {cold:13.1f} {cached:10.2f}")


def _plan_costs(supergraph: Supergraph, source: str) -> tuple[float, float]:
    document = parse(source)
    planner = QueryPlanner(supergraph)
    cold = per_call_us(lambda: planner.build(document, None, frozenset()), 200)
    planner.plan_for(source, document, None)
    cached = per_call_us(lambda: planner.plan_for(source, document, None), 20000)
    return cold, cached


class ReplayingClient(SubgraphClient):
    """Answers each subgraph request with the answer recorded from the real subgraph."""

    def __init__(self, answers: dict[bytes, dict[str, Any]]) -> None:
        super().__init__({})
        self.answers = answers

    async def request(
        self,
        service: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        return self.answers[orjson.dumps(body, option=orjson.OPT_SORT_KEYS)]


class RecordingClient(SubgraphClient):
    def __init__(self, urls: Mapping[str, str]) -> None:
        super().__init__(urls)
        self.answers: dict[bytes, dict[str, Any]] = {}

    async def request(
        self,
        service: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        answer = await super().request(service, body, headers, idempotent=idempotent)
        self.answers[orjson.dumps(body, option=orjson.OPT_SORT_KEYS)] = answer
        return answer


async def recorded_answers() -> dict[bytes, dict[str, Any]]:
    supergraph = Supergraph(SUPERGRAPH_SDL)
    planner = QueryPlanner(supergraph)
    async with serve_subgraphs() as server:
        recorder = RecordingClient(server.urls())
        for name in OPERATIONS:
            source = operation(name)
            planned = planner.plan_for(source, parse(source), None)
            await Executor(supergraph, recorder).execute(planned, {}, lambda _: {})
        await recorder.aclose()
    return recorder.answers


async def router_cpu_per_request(answers: dict[bytes, dict[str, Any]]) -> None:
    supergraph = Supergraph(SUPERGRAPH_SDL)
    planner = QueryPlanner(supergraph)
    executor = Executor(supergraph, ReplayingClient(answers))
    print(f"\n{'operation':18} {'router CPU per request µs (plan cached, replayed answers)':>58}")
    for name in OPERATIONS:
        source = operation(name)
        planned = planner.plan_for(source, parse(source), None)
        rounds = 2000
        start = time.perf_counter()
        document = parse(source)
        for _ in range(rounds):
            planned = planner.plan_for(source, document, None)
            result = await executor.execute(planned, {}, lambda _: {})
            orjson.dumps(result)
        print(f"{name:18} {(time.perf_counter() - start) / rounds * 1e6:58.1f}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def throughput(
    answers: dict[bytes, dict[str, Any]], seconds: float = 5.0, concurrency: int = 16
) -> None:
    subgraph_port, router_port = free_port(), free_port()
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as recorded:
        recorded.write(orjson.dumps([[k.decode(), v] for k, v in answers.items()]))
    module = [sys.executable, "-m", "tests.bench.router_bench"]
    # Blocking starts are fine here: nothing else runs on the loop yet.
    subgraphs = subprocess.Popen([*module, "replay", str(subgraph_port), recorded.name])  # noqa: S603, ASYNC220
    router = subprocess.Popen([*module, "router", str(router_port), str(subgraph_port)])  # noqa: S603, ASYNC220
    try:
        await asyncio.sleep(3)
        url = f"http://127.0.0.1:{router_port}/graphql"
        print(
            f"\nHTTP through the router (subgraphs replayed by a stub), {concurrency} "
            f"connections, {seconds:.0f} s each, load generated in Python on the same machine"
        )
        for name in ("provides", "entity_chain", "requires"):
            count, latencies = await _load(url, operation(name), seconds, concurrency)
            p50 = statistics.median(latencies) * 1000
            print(f"{name:18} {count / seconds:8.0f} req/s   p50 {p50:.1f} ms")
    finally:
        router.terminate()
        subgraphs.terminate()
        Path(recorded.name).unlink()  # noqa: ASYNC240 - the load has finished


async def _load(url: str, query: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.post(url, json={"query": query})
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies


def replay_app(path: str) -> Any:
    answers = {
        key.encode(): orjson.dumps(value) for key, value in orjson.loads(Path(path).read_bytes())
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        key = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answers[key]})

    return app


def serve(role: str, port: int, argument: str) -> None:
    if role == "replay":
        app: Any = replay_app(argument)
    else:
        base = f"http://127.0.0.1:{argument}"
        app = create_app(SUPERGRAPH_SDL, subgraph_urls={n: f"{base}/{n}/graphql" for n in SCHEMAS})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    if len(sys.argv) > 1:
        serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
        return
    planning()
    answers = asyncio.run(recorded_answers())
    asyncio.run(router_cpu_per_request(answers))
    asyncio.run(throughput(answers))


if __name__ == "__main__":
    main()
