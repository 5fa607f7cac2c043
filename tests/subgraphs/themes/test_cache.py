"""The published theme cached in Redis per organization: a publication is served at once by
every replica, a cached read costs no query, and one organization's entry never answers for
another."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import event

from subgraphs.kernel.db import Database, utcnow
from subgraphs.themes import cache
from subgraphs.themes.service import DraftChanges, ThemesService
from tests.conftest import SignedClient, unique_slug
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import light, org_themes, owner, publish, update
from tests.subgraphs.themes.operations import filled
from vetrai.settings import PlatformSettings


@contextmanager
def counted(service: ThemesService) -> Iterator[list[str]]:
    """The SQL statements ``service`` sends while the block runs."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = service.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _by_slug(themes: SignedClient, slug: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await themes.run(filled(operations.BY_SLUG, slug=slug)))[
        "themeBySlug"
    ]
    return found


async def _stylesheet(themes: SignedClient, url: str) -> str:
    response = await themes.client.get(url.removeprefix("/assets/themes"))
    assert response.status_code == 200
    return response.text


async def test_a_publication_is_served_at_once_by_slug_and_stylesheet_in_every_replica(
    themes: SignedClient, other_process: ThemesService
) -> None:
    caller, slug = owner(), unique_slug()
    assert caller.org_id is not None
    await other_process.set_slug(caller.org_id, slug, utcnow())
    await update(themes, caller, light=light("#0A66C2"))
    await publish(themes, caller, 0)
    first = await _by_slug(themes, slug)  # now cached by the themes app
    assert first is not None
    assert "--vetrai-color-primary: #0a66c2" in await _stylesheet(themes, first["css"]["url"])

    red = DraftChanges(light=light("#B91C1C"))
    await other_process.update_draft(caller, caller.org_id, red)
    await other_process.publish(caller, caller.org_id, 1, accept_low_contrast=False)

    second = await _by_slug(themes, slug)  # no waiting: the publication bumped the entry
    assert second is not None
    assert second["light"]["primary"] == "#b91c1c"
    assert second["css"]["url"] != first["css"]["url"]
    assert "--vetrai-color-primary: #b91c1c" in await _stylesheet(themes, second["css"]["url"])
    members_see = await org_themes(themes, caller, caller.org_id)
    assert members_see is not None
    assert members_see["theme"]["version"] == 2


async def test_a_rollback_is_served_at_once(
    themes: SignedClient, other_process: ThemesService
) -> None:
    caller, slug = owner(), unique_slug()
    assert caller.org_id is not None
    await other_process.set_slug(caller.org_id, slug, utcnow())
    for version, primary in enumerate(("#0A66C2", "#B91C1C")):
        await update(themes, caller, light=light(primary))
        await publish(themes, caller, version)
    assert ((await _by_slug(themes, slug)) or {})["light"]["primary"] == "#b91c1c"
    await other_process.rollback(caller, caller.org_id, 1)
    assert ((await _by_slug(themes, slug)) or {})["light"]["primary"] == "#0a66c2"


async def test_a_cached_theme_is_read_without_the_database(
    other_process: ThemesService,
) -> None:
    service, caller, slug = other_process, owner(), unique_slug()
    assert caller.org_id is not None
    await service.set_slug(caller.org_id, slug, utcnow())
    await service.update_draft(caller, caller.org_id, DraftChanges(light=light("#0A66C2")))
    await service.publish(caller, caller.org_id, 0, accept_low_contrast=False)
    with counted(service) as cold:
        assert (await service.by_slug(slug)) is not None
    assert cold  # the first read went to PostgreSQL
    with counted(service) as warm:
        found = await service.by_slug(slug)
        [published] = await service.published(caller, [caller.org_id])
    assert warm == []
    assert found is not None
    assert published is not None
    assert found.light.primary == published.light.primary == "#0a66c2"


async def test_an_unknown_slug_is_cached_until_a_slug_is_recorded(
    other_process: ThemesService, themes: SignedClient
) -> None:
    caller, slug = owner(), unique_slug()
    assert caller.org_id is not None
    await update(themes, caller, light=light())
    await publish(themes, caller, 0)
    assert await _by_slug(themes, slug) is None
    with counted(other_process) as warm:
        assert await other_process.by_slug(slug) is None
    assert warm == []
    await other_process.set_slug(caller.org_id, slug, utcnow())
    assert await _by_slug(themes, slug) is not None


async def test_another_organizations_cached_theme_is_never_served(
    themes: SignedClient, other_process: ThemesService
) -> None:
    acme, globex = owner(), owner()
    slugs = {acme: unique_slug(), globex: unique_slug()}
    for caller, primary in ((acme, "#0A66C2"), (globex, "#B91C1C")):
        assert caller.org_id is not None
        await other_process.set_slug(caller.org_id, slugs[caller], utcnow())
        await update(themes, caller, light=light(primary))
        await publish(themes, caller, 0)
    for _ in range(2):  # cold, then cached
        assert ((await _by_slug(themes, slugs[acme])) or {})["light"]["primary"] == "#0a66c2"
        assert ((await _by_slug(themes, slugs[globex])) or {})["light"]["primary"] == "#b91c1c"
    assert globex.org_id is not None
    assert await other_process.published(acme, [globex.org_id]) == [None]
    seen = await org_themes(themes, acme, globex.org_id)
    assert seen is not None
    assert seen["theme"] is None


async def test_an_entry_read_before_a_change_is_never_served_after_it(
    other_process: ThemesService,
) -> None:
    redis: Redis = other_process.redis
    key, generation = unique_slug(), unique_slug()
    loads: list[str] = []

    async def load_during_a_change() -> str:
        # A publication commits and bumps while this reader is still loading the old value.
        await cache.bump(redis, generation, key)
        loads.append("old")
        return "old"

    async def load_after() -> str:
        loads.append("new")
        return "new"

    assert await cache.read(redis, key, generation, load_during_a_change) == "old"
    assert await cache.read(redis, key, generation, load_after) == "new"
    assert await cache.read(redis, key, generation, load_after) == "new"
    assert loads == ["old", "new"]
    await redis.delete(key, generation)


async def test_without_redis_readers_and_publishers_go_to_postgresql(
    themes_settings: PlatformSettings,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    db = Database(themes_settings.core.login_url("themes"))
    service = ThemesService(db, down, themes_settings, None, b"")
    caller, slug = owner(), unique_slug()
    assert caller.org_id is not None
    try:
        await service.set_slug(caller.org_id, slug, utcnow())
        await service.update_draft(caller, caller.org_id, DraftChanges(light=light("#0A66C2")))
        await service.publish(caller, caller.org_id, 0, accept_low_contrast=False)
        found = await service.by_slug(slug)
        assert found is not None
        assert found.light.primary == "#0a66c2"
    finally:
        await down.aclose()
        await db.close()
