"""Themes' reads from the Redis cache: the stylesheet endpoint (``GET /css/<org>/<sha256>.css``)
and ``themeBySlug``, each after one warming read, and how many SQL statements they sent.

Run with `.venv/bin/python -m tests.bench.themes_cache` from the repository root (embedded
PostgreSQL and Redis under a temporary folder); not part of CI.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import event

from core.caller import Caller
from subgraphs.kernel.db import utcnow
from subgraphs.kernel.migrations import migrate
from subgraphs.themes.service import DraftChanges, ThemesService
from tests.bench.stack import run_on_stack
from vetrai.devstack import create_database, on_database
from vetrai.platform import all_migrations, domain, logins
from vetrai.settings import PlatformSettings

READS = 2000
BY_SLUG = """query($s: String!) { themeBySlug(slug: $s) { css { url } light { primary } } }"""


async def _timed(read: Callable[[], Awaitable[None]], statements: list[Any]) -> list[float]:
    await read()  # the warming read fills the cache
    statements.clear()
    found = []
    for _ in range(READS):
        started = time.perf_counter()
        await read()
        found.append((time.perf_counter() - started) * 1000)
    return sorted(found)


def _report(name: str, ms: list[float], statements: int) -> None:
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(
        f"{name}: {len(ms)} reads, median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms,"
        f" {statements} SQL statements"
    )


async def bench(stack_settings: PlatformSettings) -> None:
    assert stack_settings.core.database_url
    name = f"bench_{secrets.token_hex(3)}"
    url = await create_database(stack_settings.core.database_url, name)
    settings = on_database(stack_settings, name)
    await asyncio.to_thread(migrate, url, all_migrations(), logins(settings))
    app = domain("themes").create_app(settings)
    service: ThemesService = app.state.services
    owner = Caller(user_id=uuid4(), org_id=uuid4(), roles=frozenset({"owner"}))
    assert owner.org_id is not None
    slug = f"bench-{secrets.token_hex(3)}"
    await service.set_slug(owner.org_id, slug, utcnow())
    colors = {"primary": "#0a66c2", "background": "#ffffff", "foreground": "#111827"}
    changes = DraftChanges(light=colors | {"link": "#0a66c2"})
    await service.update_draft(owner, owner.org_id, changes)
    theme = await service.publish(owner, owner.org_id, 0, accept_low_contrast=False)
    statements: list[Any] = []
    event.listen(
        service.db.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://themes") as client:
        path = service.css_url(theme).removeprefix(service.public_url)

        async def stylesheet() -> None:
            response = await client.get(path)
            assert response.status_code == 200, response.text

        async def by_slug() -> None:
            response = await client.post(
                "/graphql", json={"query": BY_SLUG, "variables": {"s": slug}}
            )
            assert response.json()["data"]["themeBySlug"], response.text

        for name, read in (("stylesheet", stylesheet), ("themeBySlug", by_slug)):
            ms = await _timed(read, statements)
            _report(name, ms, len(statements))
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


def main() -> None:
    run_on_stack(bench)


if __name__ == "__main__":
    main()
