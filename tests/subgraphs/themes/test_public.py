"""The public theme of an organization's slug, learnt from tenancy's announcements: only the
published version, never a draft, following renames."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, unique_slug
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import light, publish, update
from tests.subgraphs.themes.operations import filled

CREATE_ORG = """mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) {
  organization { id } errors { code } } }"""
RENAME = """mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) {
  organization { slug } errors { code } } }"""


async def _organization(tenancy: SignedClient, slug: str) -> Caller:
    user = Caller(user_id=uuid4())
    variables = {"input": {"name": "Acme", "slug": slug}}
    created = (await tenancy.run(CREATE_ORG, variables, user))["createOrganization"]
    return Caller(
        user_id=user.user_id, org_id=UUID(created["organization"]["id"]), roles=frozenset({"owner"})
    )


async def _by_slug(themes: SignedClient, slug: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await themes.run(filled(operations.BY_SLUG, slug=slug)))[
        "themeBySlug"
    ]
    return found


async def _eventually(themes: SignedClient, slug: str, present: bool) -> dict[str, Any] | None:
    """themeBySlug once tenancy's announcement reached themes through the worker (10 s)."""
    for _ in range(500):
        found = await _by_slug(themes, slug)
        if (found is not None) == present:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"themeBySlug({slug!r}) never became {'set' if present else 'null'}")


async def test_the_published_theme_is_public_by_slug_and_the_draft_never_is(
    themes: SignedClient, tenancy: SignedClient
) -> None:
    slug = unique_slug()
    caller = await _organization(tenancy, slug)
    await update(themes, caller, light=light("#0A66C2"))
    assert await _by_slug(themes, slug) is None  # nothing published yet
    await publish(themes, caller, 0)
    found = await _eventually(themes, slug, present=True)
    assert found is not None
    assert found["light"]["primary"] == "#0a66c2"
    assert found["light"]["primaryForeground"] == "#ffffff"
    assert found["css"]["url"].startswith(f"/assets/themes/css/{caller.org_id}/")
    assert found["logo"] is None
    await update(themes, caller, light=light("#B91C1C"))
    assert (await _by_slug(themes, slug) or {})["light"]["primary"] == "#0a66c2"


async def test_a_renamed_organization_is_found_by_its_new_slug_only(
    themes: SignedClient, tenancy: SignedClient
) -> None:
    old, new = unique_slug(), unique_slug()
    caller = await _organization(tenancy, old)
    await update(themes, caller, light=light())
    await publish(themes, caller, 0)
    await _eventually(themes, old, present=True)
    variables = {"input": {"id": str(caller.org_id), "slug": new}}
    renamed = (await tenancy.run(RENAME, variables, caller))["updateOrganization"]
    assert renamed["errors"] == []
    await _eventually(themes, new, present=True)
    assert await _by_slug(themes, old) is None


async def test_an_unknown_slug_has_no_theme(themes: SignedClient) -> None:
    assert await _by_slug(themes, "no-such-organization") is None


async def test_tenancy_announces_the_organizations_name_with_its_slug(
    themes: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    """The footer name of the organization's emails, renames included."""
    caller = await _organization(tenancy, unique_slug())

    async def named(expected: str) -> None:
        for _ in range(500):
            async with owner_engine.connect() as connection:
                found = await connection.scalar(
                    text("select name from themes.organization_slugs where org_id = :org"),
                    {"org": caller.org_id},
                )
            if found == expected:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the name {expected!r} never reached themes")

    await named("Acme")
    variables = {"input": {"id": str(caller.org_id), "name": "Acme Widgets"}}
    renamed = (await tenancy.run(RENAME, variables, caller))["updateOrganization"]
    assert renamed["errors"] == []
    await named("Acme Widgets")
