"""Run several ASGI apps, one uvicorn server per port, and ARQ workers in one event loop;
Ctrl-C stops all."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Generator, Sequence
from typing import Any

import uvicorn
from arq.worker import Worker
from starlette.types import ASGIApp

from vetrai import worker as workers
from vetrai.platform import Service

KEEP_ALIVE_SECONDS = 75
"""How long a server keeps an idle connection open: longer than its clients keep one for reuse
(httpx 5 s, a load balancer's usual 60 s). Were it shorter, a client could send its next request
on a connection the server is closing at that moment, and get no answer at all."""


def server_config(app: ASGIApp, host: str, port: int, **options: Any) -> uvicorn.Config:
    """How every VetrAI HTTP server runs (the tests serve apps the same way)."""
    settings: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # requests still running then (a streamed subscription) are cancelled
        "timeout_graceful_shutdown": workers.SHUTDOWN_GRACE_SECONDS,
    }
    return uvicorn.Config(app, host=host, port=port, **(settings | options))


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # One handler for all servers is installed by ``serve``; uvicorn's would stop only one.
        yield


def _freeze_startup_heap() -> None:
    """Move what the process holds for its whole life (modules, schemas, apps) out of the cycle
    collector's scans. Otherwise interpreter exit scans and frees it all once more: about a
    second of CPU per process after its servers have stopped, which on a loaded host (every
    container stopped at once) outlasts the stop grace."""
    gc.collect()
    gc.freeze()


async def serve(
    services: Sequence[Service],
    host: str,
    on_started: Callable[[], None] = lambda: None,
    background: Sequence[Worker] = (),
) -> None:
    servers = [_Server(server_config(s.app, host, s.port)) for s in services]

    def stop() -> None:
        for server in servers:
            server.should_exit = True
        for worker in background:
            workers.stop(worker)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    running = asyncio.gather(
        *(server.serve() for server in servers), *(workers.run(w) for w in background)
    )
    while not all(server.started for server in servers):
        if running.done():
            break
        await asyncio.sleep(0.05)
    else:
        _freeze_startup_heap()
        on_started()
    await running
    if not all(server.started for server in servers):
        raise SystemExit("a service could not start (is its port in use?)")
