"""Drafts, contrast, publication, versions and rollback through the themes subgraph, and who
may see or change them."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.kernel.migrations import role_of
from tests.conftest import SignedClient
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import light, org_themes, owner, publish, update
from tests.subgraphs.themes.operations import filled


async def test_the_issue_draft_and_publish_operations_work_as_written(themes: SignedClient) -> None:
    caller = owner()
    org = str(caller.org_id)
    drafted = await themes.run(filled(operations.UPDATE_DRAFT, org=org), caller=caller)
    drafted = drafted["updateThemeDraft"]
    assert drafted["errors"] == []
    assert drafted["theme"]["version"] == 0
    pairs = {c["pair"]: c for c in drafted["theme"]["contrast"]}
    assert pairs["light.foreground/background"]["passes"]
    assert pairs["light.primaryForeground/primary"]["ratio"] > 5
    published = await themes.run(filled(operations.PUBLISH, org=org), caller=caller)
    published = published["publishTheme"]
    assert published["errors"] == []
    assert published["theme"]["version"] == 1
    assert published["theme"]["publishedAt"]


async def test_a_draft_is_not_live_until_published(themes: SignedClient) -> None:
    caller = owner()
    await update(themes, caller, light=light("#0A66C2"))
    seen = await org_themes(themes, caller, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    assert seen["theme"] is None
    assert seen["themeDraft"]["light"]["primary"] == "#0a66c2"
    await publish(themes, caller, 0)
    await update(themes, caller, light=light("#1F2937"))
    seen = await org_themes(themes, caller, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    assert seen["theme"]["light"]["primary"] == "#0a66c2"
    assert seen["themeDraft"]["light"]["primary"] == "#1f2937"


async def test_publishing_with_a_stale_expected_version_is_a_conflict(themes: SignedClient) -> None:
    caller = owner()
    await update(themes, caller, light=light())
    assert (await publish(themes, caller, 0))["errors"] == []
    await update(themes, caller, radius=12)
    stale = await publish(themes, caller, 0)
    assert [e["code"] for e in stale["errors"]] == ["VERSION_CONFLICT"]
    assert (await publish(themes, caller, 1))["theme"]["version"] == 2


async def test_two_publications_at_once_give_one_version_and_one_conflict(
    themes: SignedClient,
) -> None:
    caller = owner()
    await update(themes, caller, light=light())
    results = await asyncio.gather(publish(themes, caller, 0), publish(themes, caller, 0))
    codes = sorted(e["code"] for r in results for e in r["errors"])
    assert codes in (["VERSION_CONFLICT"], ["NOTHING_TO_PUBLISH"])
    assert sum(r["theme"] is not None for r in results) == 1


async def test_concurrent_first_edits_of_a_draft_both_land(themes: SignedClient) -> None:
    caller = owner()
    edits = await asyncio.gather(
        update(themes, caller, radius=4), update(themes, caller, fontFamily="Georgia")
    )
    assert [e["errors"] for e in edits] == [[], []]
    seen = await themes.run(
        """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
        themeDraft { radius fontFamily } } } }""",
        {"r": [{"__typename": "Organization", "id": str(caller.org_id)}]},
        caller,
    )
    assert seen["_entities"][0]["themeDraft"] == {"radius": 4, "fontFamily": "Georgia"}


async def test_publishing_an_unchanged_draft_is_nothing_to_publish(themes: SignedClient) -> None:
    caller = owner()
    nothing = await publish(themes, caller, 0)
    assert [e["code"] for e in nothing["errors"]] == ["NOTHING_TO_PUBLISH"]
    await update(themes, caller, light=light())
    await publish(themes, caller, 0)
    again = await publish(themes, caller, 1)
    assert [e["code"] for e in again["errors"]] == ["NOTHING_TO_PUBLISH"]


async def test_low_contrast_is_saved_reported_and_published_only_when_an_owner_accepts(
    themes: SignedClient,
) -> None:
    caller = owner()
    drafted = await update(themes, caller, light=light("#0A66C2", link="#9ECBFF"))
    assert drafted["errors"] == []
    link = next(c for c in drafted["theme"]["contrast"] if c["pair"] == "light.link/background")
    assert not link["passes"]
    assert link["suggestion"]
    refused = await publish(themes, caller, 0)
    assert [e["code"] for e in refused["errors"]] == ["CONTRAST_TOO_LOW"]
    admin = Caller(user_id=uuid4(), org_id=caller.org_id, roles=frozenset({"admin"}))
    by_admin = await publish(themes, admin, 0, accept=True)
    assert [e["code"] for e in by_admin["errors"]] == ["CONTRAST_TOO_LOW"]
    accepted = await publish(themes, caller, 0, accept=True)
    assert accepted["theme"]["acceptedLowContrast"] is True


async def test_rollback_republishes_an_old_version_as_the_next_one(themes: SignedClient) -> None:
    caller = owner()
    for expected, primary in enumerate(["#0A66C2", "#1F2937"]):
        await update(themes, caller, light=light(primary))
        await publish(themes, caller, expected)
    query = """mutation($org: ID!) { rollbackTheme(organizationId: $org, version: 1) {
      theme { version rolledBackFrom light { primary } } errors { code message } } }"""
    rolled = (await themes.run(query, {"org": str(caller.org_id)}, caller))["rollbackTheme"]
    assert rolled["theme"] == {"version": 3, "rolledBackFrom": 1, "light": {"primary": "#0a66c2"}}
    seen = await org_themes(themes, caller, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    assert [v["version"] for v in seen["themeVersions"]] == [3, 2, 1]
    assert seen["theme"]["version"] == 3
    assert seen["themeDraft"]["version"] == 3


async def test_members_read_the_published_theme_but_cannot_edit_or_see_the_draft(
    themes: SignedClient,
) -> None:
    caller = owner()
    await update(themes, caller, light=light())
    await publish(themes, caller, 0)
    member = Caller(user_id=uuid4(), org_id=caller.org_id, roles=frozenset({"member"}))
    refused = await update(themes, member, radius=2)
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    seen = await org_themes(themes, member, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    assert seen["theme"]["version"] == 1
    assert seen["themeDraft"] is None
    assert seen["themeVersions"] == []


async def test_another_organizations_themes_are_null_to_a_caller(themes: SignedClient) -> None:
    caller = owner()
    await update(themes, caller, light=light())
    published = await publish(themes, caller, 0)
    stranger = owner()
    seen = await org_themes(themes, stranger, caller.org_id)  # type: ignore[arg-type]
    assert seen == {"theme": None, "themeDraft": None, "themeVersions": []}
    query = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Theme { id } } }"""
    ids = [published["theme"]["id"], f"{caller.org_id}:draft"]
    representations = [{"__typename": "Theme", "id": i} for i in ids]
    data = await themes.run(query, {"r": representations}, stranger)
    assert data["_entities"] == [None, None]
    mine = await themes.run(query, {"r": representations}, caller)
    assert [e["id"] for e in mine["_entities"]] == ids


async def test_bad_input_is_reported_together_and_changes_nothing(themes: SignedClient) -> None:
    caller = owner()
    await update(themes, caller, light=light("#0A66C2"))
    bad = await update(
        themes,
        caller,
        light=light("blue"),
        radius=99,
        fontFamily="Comic Sans from a CDN",
        customCss=".a { position: fixed }",
    )
    codes = sorted((e["code"], e["field"]) for e in bad["errors"])
    assert codes == [
        ("CSS_NOT_ALLOWED", "customCss"),
        ("FONT_NOT_ALLOWED", "fontFamily"),
        ("INVALID_COLOR", "light.link"),
        ("INVALID_COLOR", "light.primary"),
        ("INVALID_INPUT", "radius"),
    ]
    seen = await org_themes(themes, caller, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    assert seen["themeDraft"]["light"]["primary"] == "#0a66c2"


async def test_theme_rows_are_invisible_to_another_organizations_transaction(
    themes: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    await update(themes, caller, light=light())
    await publish(themes, caller, 0)
    role = role_of("themes")
    async with owner_engine.connect() as connection:
        await connection.execute(text(f"set role {role}"))
        await connection.execute(
            text("select set_config('app.org_id', :org, false)"), {"org": str(uuid4())}
        )
        for table in ("drafts", "versions", "assets", "organization_slugs"):
            count = await connection.scalar(
                text(f"select count(*) from themes.{table} where org_id = :org"),  # noqa: S608
                {"org": str(caller.org_id)},
            )
            assert count == 0, table


async def test_the_stylesheet_is_served_immutable_with_its_etag(themes: SignedClient) -> None:
    caller = owner()
    assert caller.org_id is not None
    await update(themes, caller, light=light(), customCss=".btn { border-radius: 6px }")
    published = await publish(themes, caller, 0)
    url = published["theme"]["css"]["url"]
    path = url.removeprefix("/assets/themes")
    response = await themes.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["etag"] == f'"{published["theme"]["css"]["hash"]}"'
    assert "--vetrai-color-primary: #0a66c2" in response.text
    assert f".vetrai-org-{caller.org_id.hex} .btn {{ border-radius: 6px }}" in response.text
    again = await themes.client.get(path, headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304
    other = path.replace(str(caller.org_id), str(uuid4()))
    assert (await themes.client.get(other)).status_code == 404


async def test_css_of_an_unknown_hash_is_not_found(themes: SignedClient) -> None:
    response = await themes.client.get(f"/css/{uuid4()}/{'0' * 64}.css")
    assert response.status_code == 404
