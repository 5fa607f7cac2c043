"""ARQ tasks of the keys subgraph."""

from __future__ import annotations

from typing import Any

from subgraphs.keys.service import KeysService


async def flush_usage(ctx: dict[str, Any]) -> int:
    """Periodic (every minute is plenty): move API-key usage counters from Redis to PostgreSQL.

    ``ctx`` is the worker's: ``redis`` (ARQ's own connection), ``db`` (a kernel ``Database``)
    and ``settings``.
    """
    service = KeysService(ctx["db"], ctx["redis"], ctx["settings"])
    return await service.flush_usage()
