"""Billing's word on ``white_label`` (a durable job on every plan change) reaches themes: after
a downgrade the live theme's stylesheet is served without its custom CSS, under a new hash, and
the old one is gone; an upgrade brings it back; an older word never overrides a newer one. The
announcement is recorded by another replica, so its cache must not serve what it stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from subgraphs.kernel.db import utcnow
from subgraphs.themes.service import ThemesService
from subgraphs.themes.tokens import scope_class
from tests.conftest import SignedClient
from tests.subgraphs.themes.conftest import light, owner, publish, update

LIVE_CSS = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  theme { version customCss css { url hash } } } } }"""
CUSTOM = ".btn { border-radius: 6px }"


async def _live_css(themes: SignedClient, org_id: UUID) -> dict[str, Any]:
    """The live theme's stylesheet path, as a member reads it."""
    caller = owner(org_id, "member")
    representation = {"__typename": "Organization", "id": str(org_id)}
    data = await themes.run(LIVE_CSS, {"r": [representation]}, caller)
    theme: dict[str, Any] = data["_entities"][0]["theme"]
    return theme


async def _served(themes: SignedClient, url: str) -> str | None:
    response = await themes.client.get(url.removeprefix("/assets/themes"))
    if response.status_code == 404:
        return None
    assert response.status_code == 200
    return response.text


async def test_a_downgrade_withholds_the_live_custom_css_and_an_upgrade_restores_it(
    themes: SignedClient, other_process: ThemesService
) -> None:
    caller = owner()
    org = caller.org_id
    assert org is not None
    await update(themes, caller, light=light(), customCss=CUSTOM)
    assert (await publish(themes, caller, 0))["errors"] == []
    entitled = await _live_css(themes, org)
    assert scope_class(org) in (await _served(themes, entitled["css"]["url"]) or "")

    downgraded = utcnow()
    await other_process.set_white_label(org, False, downgraded)
    withheld = await _live_css(themes, org)
    assert withheld["customCss"] == CUSTOM  # kept, for the owners who see what is withheld
    assert withheld["css"]["hash"] != entitled["css"]["hash"]
    sheet = await _served(themes, withheld["css"]["url"])
    assert sheet is not None
    assert "--vetrai-color-primary" in sheet
    assert scope_class(org) not in sheet
    assert await _served(themes, entitled["css"]["url"]) is None

    await other_process.set_white_label(org, True, downgraded - timedelta(seconds=1))  # late
    assert (await _live_css(themes, org))["css"] == withheld["css"]

    await other_process.set_white_label(org, True, downgraded + timedelta(seconds=1))
    assert (await _live_css(themes, org))["css"] == entitled["css"]
    assert scope_class(org) in (await _served(themes, entitled["css"]["url"]) or "")


async def test_a_downgrade_changes_nothing_for_a_theme_without_custom_css(
    themes: SignedClient, other_process: ThemesService
) -> None:
    caller = owner()
    assert caller.org_id is not None
    await update(themes, caller, light=light())
    assert (await publish(themes, caller, 0))["errors"] == []
    before = await _live_css(themes, caller.org_id)
    await other_process.set_white_label(caller.org_id, False, utcnow())
    assert (await _live_css(themes, caller.org_id))["css"] == before["css"]
    assert await _served(themes, before["css"]["url"]) is not None


async def test_a_downgraded_draft_with_custom_css_is_not_served(
    themes: SignedClient, other_process: ThemesService
) -> None:
    caller = owner()
    assert caller.org_id is not None
    drafted = await update(themes, caller, light=light(), customCss=CUSTOM)
    url = drafted["theme"]["css"]["url"]
    assert await _served(themes, url) is not None
    await other_process.set_white_label(caller.org_id, False, utcnow())
    assert await _served(themes, url) is None
