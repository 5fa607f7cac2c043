"""Hot reload: watch a supergraph file and hand every changed version to ``swap``.

A file that does not load leaves the running supergraph in place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

logger = logging.getLogger("vetrai.router")


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


async def watch(path: Path, swap: Callable[[str], Awaitable[None]], interval: float) -> None:
    stamp = await asyncio.to_thread(_stamp, path)
    while True:
        await asyncio.sleep(interval)
        current = await asyncio.to_thread(_stamp, path)
        if current is None or current == stamp:
            continue
        stamp = current
        try:
            await swap(await asyncio.to_thread(path.read_text))
        except Exception:
            logger.exception("supergraph %s not loaded; still serving the previous one", path)
            continue
        logger.info("serving the new supergraph from %s", path)
