"""Instructions per request of the comparison benchmark's router (`router.edge.create_app`) of
one or more source trees, each run under callgrind in front of the same subgraph servers (this
tree's): a change between two commits shows in instruction counts, which a busy shared machine
does not blur as it blurs requests per second and CPU time.

Run from the repository root, with a tree per commit to compare (each with its own .venv, e.g.
a `git worktree add` of the older commit and `make install` there):

    .venv/bin/python -m tests.bench.router_instructions OLD_TREE . [--operation heavy]

It needs valgrind (callgrind_control included); not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from router.compose import Subgraph, compose
from router.executor.http import Origin
from tests.bench.compare import (
    SERVICE_QUERY,
    free_port,
    load_cores,
    request_body,
    started,
    wait_until_up,
)
from tests.bench.federation import SUBGRAPHS

WARM_REQUESTS = 20


async def send(url: str, body: bytes, requests: int, connections: int) -> None:
    """``requests`` POSTs over ``connections`` concurrent connections, each answered 200
    without errors."""
    origin = Origin(url, timeout=600)
    left = requests

    async def one_connection() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            answer = await origin.post("/graphql", body, {"Content-Type": "application/json"})
            if answer.status != 200 or b'"errors"' in answer.body:
                raise RuntimeError(f"the router answered {answer.status}: {answer.body[:300]!r}")

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    origin.close()


def instructions(tree: Path, supergraph: Path, body: bytes, requests: int, conns: int) -> int:
    """Instructions the router of ``tree`` ran to serve ``requests`` warm requests."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    out = supergraph.with_name(f"callgrind.{port}.out")
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        str(tree / ".venv" / "bin" / "python"),
        *("-m", "tests.bench.compare", "router", str(port), str(supergraph), "1"),
    ]
    router = subprocess.Popen(  # noqa: S603 - fixed command built here
        command, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(url, request_body("light"), router, 600)
        asyncio.run(send(url, body, WARM_REQUESTS, conns))
        collect(router.pid, "on")
        asyncio.run(send(url, body, requests, conns))
        collect(router.pid, "off")
    finally:
        router.terminate()
        router.wait(120)
    found = re.search(r"^totals:\s*(\d+)", out.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"callgrind wrote no totals to {out}")
    return int(found.group(1))


def collect(pid: int, state: str) -> None:
    subprocess.run(  # noqa: S603 - fixed command
        ["callgrind_control", "-i", state, str(pid)],  # noqa: S607
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="+", type=Path, help="source trees, each with a .venv")
    parser.add_argument("--operation", default="heavy", choices=("heavy", "light"))
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="runs per tree, alternated")
    args = parser.parse_args()
    ports = {name: free_port() for name in SUBGRAPHS}
    urls = {name: f"http://127.0.0.1:{port}/graphql" for name, port in ports.items()}
    module = [sys.executable, "-m", "tests.bench.compare"]
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        for name, port in ports.items():
            server = stack.enter_context(
                started([*module, "subgraph", name, str(port)], load_cores())
            )
            wait_until_up(urls[name], SERVICE_QUERY, server, 30)
        subgraphs = [Subgraph(name=n, url=urls[n], sdl=f().sdl) for n, f in SUBGRAPHS.items()]
        sdl = compose(subgraphs).supergraph_sdl
        assert sdl is not None
        supergraph = Path(folder) / "supergraph.graphql"
        supergraph.write_text(sdl)
        body = request_body(args.operation)
        for round_ in range(args.rounds):
            for tree in args.trees:
                total = instructions(
                    tree.resolve(), supergraph, body, args.requests, args.connections
                )
                print(
                    f"round {round_ + 1} {tree}: {args.operation} "
                    f"{total / args.requests / 1e6:.3f} M instructions/request",
                    flush=True,
                )


if __name__ == "__main__":
    main()
