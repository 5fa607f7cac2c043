"""The comparative router benchmark: our router, Apollo's JavaScript gateway and Hive Gateway in
front of the same four subgraphs, under the same load, one after the other.

Run from the repository root: `.venv/bin/python -m tests.bench.compare [--seconds N]`. It needs
wrk, taskset, Node.js and npm; it installs the gateways into tests/bench/gateways/node_modules.
Routers run on core 0, subgraphs and wrk on the other cores; not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from graphql import parse

from router.compose import Subgraph, compose
from router.documents import DocumentCache
from router.edge import create_app
from router.executor.client import SubgraphClient
from router.executor.execute import Executor
from router.planner.planner import QueryPlanner
from router.supergraph import Supergraph
from tests.bench.federation import OPERATIONS, SUBGRAPHS
from tests.bench.lean_subgraph import asgi_app

HERE = Path(__file__).parent
GATEWAYS = HERE / "gateways"
WRK_SCRIPT = HERE / "wrk_post.lua"
ROUTER_CORE = "0"
CONNECTIONS = 50
SERVICE_QUERY = b'{"query": "{ _service { sdl } }"}'


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: float
    requests: int

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.requests * 1000 if self.requests else float("nan")


@dataclass
class Row:
    system: str
    operation: str
    connections: int
    load: Load
    peak_mb: float


def load_cores() -> str:
    count = os.cpu_count() or 1
    return f"1-{count - 1}" if count > 1 else "0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, body: bytes, timeout: float = 30.0) -> Any:
    request = urllib.request.Request(  # noqa: S310 - local URLs built here
        url, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return orjson.loads(response.read())


def wait_until_up(url: str, body: bytes, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            post(url, body, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@contextmanager
def started(
    command: list[str], cores: str, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # noqa: S603 - fixed commands built here
        ["taskset", "-c", cores, *command],  # noqa: S607
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_memory_mb(pid: int) -> float:
    total = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def wrk(url: str, body: bytes, connections: int, seconds: float, pid: int | None) -> Load:
    with tempfile.NamedTemporaryFile("wb", suffix=".json") as body_file:
        body_file.write(body)
        body_file.flush()
        before = cpu_seconds(pid) if pid else 0.0
        completed = subprocess.run(  # noqa: S603 - fixed command built here
            [  # noqa: S607
                "taskset",
                "-c",
                load_cores(),
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{round(seconds)}s",
                "--timeout",
                "30s",
                "-s",
                str(WRK_SCRIPT),
                url,
            ],
            env={**os.environ, "BENCH_BODY_FILE": body_file.name},
            capture_output=True,
            check=True,
            text=True,
        )
        cpu = cpu_seconds(pid) - before if pid else float("nan")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    duration = figures["duration_us"] / 1e6
    return Load(
        requests_per_s=figures["requests"] / duration,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["errors"],
        cpu_s=cpu,
        requests=figures["requests"],
    )


def request_body(operation: str) -> bytes:
    return orjson.dumps({"query": OPERATIONS[operation]})


def ensure_gateways() -> None:
    marker = GATEWAYS / "node_modules" / ".package-lock.json"
    lock = GATEWAYS / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing the gateways (npm ci) ...", flush=True)
    npm = shutil.which("npm") or "npm"
    subprocess.run(  # noqa: S603 - fixed command
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=GATEWAYS, check=True
    )


def composed(urls: Mapping[str, str]) -> str:
    sdls = {name: factory().sdl for name, factory in SUBGRAPHS.items()}
    ours = compose([Subgraph(name=n, url=urls[n], sdl=sdl) for n, sdl in sdls.items()])
    if ours.supergraph_sdl is None:
        raise RuntimeError(f"our composition failed: {ours.errors}")
    subgraphs = [{"name": n, "url": urls[n], "sdl": sdl} for n, sdl in sdls.items()]
    apollo = subprocess.run(
        ["node", "compose.mjs"],  # noqa: S607
        cwd=GATEWAYS,
        input=json.dumps(subgraphs),
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    same = ours.supergraph_sdl.strip() == apollo.strip()
    print(f"supergraph: our composition and Apollo's are {'identical' if same else 'DIFFERENT'}")
    if not same:
        raise RuntimeError("our composition differs from Apollo's")
    return ours.supergraph_sdl


class RecordingClient(SubgraphClient):
    def __init__(self, urls: Mapping[str, str]) -> None:
        super().__init__(urls)
        self.requests: list[tuple[str, bytes]] = []

    async def request(
        self,
        service: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        self.requests.append((service, orjson.dumps(body)))
        return await super().request(service, body, headers, idempotent=idempotent)


async def subgraph_requests(
    supergraph_sdl: str, urls: Mapping[str, str]
) -> list[tuple[str, bytes]]:
    supergraph = Supergraph(supergraph_sdl)
    client = RecordingClient(urls)
    source = OPERATIONS["heavy"]
    planned = QueryPlanner(supergraph).plan_for(source, parse(source), None)
    await Executor(supergraph, client).execute(planned, {}, lambda _: {})
    await client.aclose()
    return client.requests


def subgraph_capacity(supergraph_sdl: str, urls: Mapping[str, str], seconds: float) -> None:
    requests = asyncio.run(subgraph_requests(supergraph_sdl, urls))
    print(f"\nsubgraph capacity: each fetch of the heavy plan sent directly, {CONNECTIONS} conns")
    total_ms = 0.0
    for index, (service, body) in enumerate(requests):
        load = wrk(urls[service], body, CONNECTIONS, seconds, None)
        total_ms += 1000 / load.requests_per_s
        answer = post(urls[service], body)
        size = len(orjson.dumps(answer)) / 1024
        print(
            f"  fetch {index + 1} {service:10} {load.requests_per_s:8.0f} req/s "
            f"p99 {load.p99_ms:6.1f} ms  answer {size:5.1f} KB"
        )
    print(f"  all subgraphs together: {1000 / total_ms:.0f} heavy operations/s on one core")


def planning_costs(supergraph_sdl: str) -> None:
    supergraph = Supergraph(supergraph_sdl)
    print(f"\n{'operation':10} {'cold parse+validate+plan µs':>28} {'cached lookup µs':>17}")
    for name, source in OPERATIONS.items():
        cold = []
        for _ in range(20):
            start = time.perf_counter()
            document = DocumentCache(supergraph.api_schema).get(source).document
            assert document is not None
            QueryPlanner(supergraph).plan_for(source, document, None)
            cold.append(time.perf_counter() - start)
        documents, planner = DocumentCache(supergraph.api_schema), QueryPlanner(supergraph)
        rounds = 20000
        start = time.perf_counter()
        for _ in range(rounds):
            document = documents.get(source).document
            assert document is not None
            planner.plan_for(source, document, None)
        cached = (time.perf_counter() - start) / rounds
        print(f"{name:10} {statistics.median(cold) * 1e6:28.0f} {cached * 1e6:17.2f}")


@dataclass(frozen=True)
class System:
    name: str
    command: list[str]
    cores: str
    env: Mapping[str, str]


def systems(supergraph_path: Path, port: int) -> list[System]:
    module = [sys.executable, "-m", "tests.bench.compare"]
    node_env = {"NODE_ENV": "production"}
    hive = str(GATEWAYS / "node_modules" / ".bin" / "hive-gateway")
    return [
        System("ours", [*module, "router", str(port), str(supergraph_path), "1"], ROUTER_CORE, {}),
        System(
            "apollo",
            ["node", str(GATEWAYS / "apollo.mjs"), str(supergraph_path), str(port)],
            ROUTER_CORE,
            node_env,
        ),
        System(
            "hive",
            [hive, "supergraph", str(supergraph_path), "--port", str(port), "--host", "127.0.0.1"],
            ROUTER_CORE,
            node_env,
        ),
    ]


def measure_system(
    system: System,
    url: str,
    expected: Mapping[str, Any],
    seconds: float,
    cases: list[tuple[str, int]],
) -> list[Row]:
    rows = []
    with started(system.command, system.cores, system.env) as process:
        wait_until_up(url, request_body("light"), process, 60)
        for operation in {operation for operation, _ in cases}:
            answer = post(url, request_body(operation))
            if answer != expected[operation]:
                raise RuntimeError(f"{system.name} answered {operation} differently")
        for operation, connections in cases:
            body = request_body(operation)
            wrk(url, body, connections, min(3, seconds), process.pid)
            load = wrk(url, body, connections, seconds, process.pid)
            rows.append(Row(system.name, operation, connections, load, peak_memory_mb(process.pid)))
            print(
                f"  {system.name:8} {operation:6} c={connections:<3} "
                f"{load.requests_per_s:8.0f} req/s",
                flush=True,
            )
    return rows


def print_table(rows: list[Row]) -> None:
    apollo = {(r.operation, r.connections): r.load for r in rows if r.system == "apollo"}
    print(
        f"\nresults {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores"
    )
    header = (
        f"{'system':10} {'operation':9} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU s/1k':>9} {'peak MB':>8} {'errors':>6} "
        f"{'vs apollo: req/s':>17} {'p99':>6} {'CPU':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        load = row.load
        reference = apollo.get((row.operation, row.connections))
        ratios = ["", "", ""]
        if reference is not None and row.system not in ("apollo", "direct"):
            ratios = [
                f"{load.requests_per_s / reference.requests_per_s:.2f}x",
                f"{load.p99_ms / reference.p99_ms:.2f}x",
                f"{load.cpu_per_1000 / reference.cpu_per_1000:.2f}x",
            ]
        print(
            f"{row.system:10} {row.operation:9} {row.connections:5} {load.requests_per_s:8.0f} "
            f"{load.p50_ms:8.2f} {load.p99_ms:8.1f} {_figure(load.cpu_per_1000, 2):>9} "
            f"{_figure(row.peak_mb, 0):>8} {load.errors:6} {ratios[0]:>17} {ratios[1]:>6} "
            f"{ratios[2]:>6}"
        )


def _figure(value: float, decimals: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{decimals}f}"


def run(seconds: float) -> None:
    for tool in ("wrk", "taskset", "node", "npm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"the benchmark needs {tool} on PATH")
    ensure_gateways()
    ports = {name: free_port() for name in SUBGRAPHS}
    urls = {name: f"http://127.0.0.1:{port}/graphql" for name, port in ports.items()}
    module = [sys.executable, "-m", "tests.bench.compare"]
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        for name, port in ports.items():
            process = stack.enter_context(
                started([*module, "subgraph", name, str(port)], load_cores())
            )
            wait_until_up(urls[name], SERVICE_QUERY, process, 30)
        supergraph_sdl = composed(urls)
        supergraph_path = Path(folder) / "supergraph.graphql"
        supergraph_path.write_text(supergraph_sdl)
        planning_costs(supergraph_sdl)
        subgraph_capacity(supergraph_sdl, urls, seconds)
        expected = {"light": post(urls["products"], request_body("light"))}
        rows = [
            Row(
                "direct",
                "light",
                connections,
                wrk(urls["products"], request_body("light"), connections, seconds, None),
                float("nan"),
            )
            for connections in (CONNECTIONS, 1)
        ]
        port = free_port()
        url = f"http://127.0.0.1:{port}/graphql"
        with started(systems(supergraph_path, port)[0].command, ROUTER_CORE) as process:
            wait_until_up(url, request_body("light"), process, 60)
            expected["heavy"] = post(url, request_body("heavy"))
        size = len(orjson.dumps(expected["heavy"])) / 1024
        print(f"\nheavy response: {size:.0f} KB; load: wrk, {CONNECTIONS} and 1 connections")
        cases = [("heavy", CONNECTIONS), ("light", CONNECTIONS), ("light", 1)]
        for system in systems(supergraph_path, port):
            rows += measure_system(system, url, expected, seconds, cases)
        two = System(
            "ours x2", [*module, "router", str(port), str(supergraph_path), "2"], "0-1", {}
        )
        rows += measure_system(
            two, url, expected, seconds, [("heavy", CONNECTIONS), ("light", CONNECTIONS)]
        )
    print_table(rows)


def router_app() -> Any:
    supergraph_sdl = Path(os.environ["BENCH_SUPERGRAPH"]).read_text()
    return create_app(supergraph_sdl)


def serve(arguments: list[str]) -> None:
    role = arguments[0]
    if role == "subgraph":
        app = asgi_app(SUBGRAPHS[arguments[1]]())
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=int(arguments[2]),
            log_level="warning",
            access_log=False,
            loop="uvloop",
            http="httptools",
            lifespan="on",
        )
        return
    port, supergraph_path, workers = int(arguments[1]), arguments[2], int(arguments[3])
    os.environ["BENCH_SUPERGRAPH"] = supergraph_path
    uvicorn.run(
        "tests.bench.compare:router_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("subgraph", "router"):
        serve(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    run(parser.parse_args().seconds)


if __name__ == "__main__":
    main()
