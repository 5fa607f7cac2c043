"""Hot reload: serve a supergraph file and swap in a new router when the file changes.

Requests already running finish on the router they started on; a file that does not parse or
plan leaves the running router in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)
RETIRE_AFTER = 60.0


class HotReload:
    def __init__(
        self, path: Path, build: Callable[[str], Starlette], interval: float = 1.0
    ) -> None:
        self.path = path
        self.build = build
        self.interval = interval
        self._stamp = path.stat().st_mtime_ns
        self.app = build(path.read_text())
        self._watcher: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._watcher = asyncio.create_task(self._watch())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._watcher:
                    self._watcher.cancel()
                await _close(self.app)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            with contextlib.suppress(OSError):
                stamp = self.path.stat().st_mtime_ns
                if stamp != self._stamp:
                    self._stamp = stamp
                    self.reload()

    def reload(self) -> None:
        try:
            fresh = self.build(self.path.read_text())
        except Exception:
            logger.exception("supergraph %s not loaded; still serving the previous one", self.path)
            return
        retired, self.app = self.app, fresh
        asyncio.get_running_loop().call_later(
            RETIRE_AFTER, lambda: asyncio.ensure_future(_close(retired))
        )
        logger.info("serving the new supergraph from %s", self.path)


async def _close(app: Starlette) -> None:
    await app.state.router.executor.client.aclose()
