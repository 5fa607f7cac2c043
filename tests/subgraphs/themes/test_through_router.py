"""The issue's operations as written, through the router over every subgraph on real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from router.compose.compose import compose
from tests.conftest import unique_slug
from tests.router.platform.conftest import (
    RouterClient,
    router_client,
    router_config,
    served,
    until_limited,
)
from tests.subgraphs.billing.conftest import billing_settings, stripe_server  # noqa: F401
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import image_bytes
from tests.subgraphs.themes.operations import filled
from vetrai.platform import DOMAINS, composition_sources
from vetrai.settings import PlatformSettings


@pytest.fixture(scope="module")
async def router(
    themes_settings: PlatformSettings,
    billing_settings: PlatformSettings,  # noqa: F811 - the billing tests' fixture
    worker: None,
) -> AsyncIterator[RouterClient]:
    """Every subgraph with storage (themes) and the Stripe test server (plans can be bought)."""
    settings = billing_settings.model_copy(update={"storage": themes_settings.storage})
    sdl = compose(composition_sources()).supergraph_sdl
    assert sdl is not None
    servers = [served(spec.create_app(settings)) for spec in DOMAINS]
    urls = {
        spec.name: f"{await server.__aenter__()}/graphql"
        for spec, server in zip(DOMAINS, servers, strict=True)
    }
    async with router_client(settings, sdl, urls, router_config()) as client:
        yield client
    for server in reversed(servers):
        await server.__aexit__(None, None, None)


async def _run(router: RouterClient, operation: str, headers: dict[str, str]) -> Any:
    return await router.data(operation, None, **headers)


async def test_the_issue_operations_work_as_written_through_the_router(
    router: RouterClient,
) -> None:
    _, token = await router.sign_up()
    slug = unique_slug()
    created = await router.data(
        """mutation($s: String!) { createOrganization(input: {name: "Acme", slug: $s})
        { organization { id } } }""",
        {"s": slug},
        authorization=f"Bearer {token}",
    )
    org = created["createOrganization"]["organization"]["id"]
    headers = {"authorization": f"Bearer {token}", "x_organization_id": org}
    await router.subscribe(token, org, "team")  # the operation sets custom CSS: white_label

    drafted = await _run(router, filled(operations.UPDATE_DRAFT, org=org), headers)
    assert drafted["updateThemeDraft"]["errors"] == []
    assert drafted["updateThemeDraft"]["theme"]["version"] == 0

    requested = await _run(router, filled(operations.REQUEST_UPLOAD, org=org), headers)
    upload = requested["requestThemeAssetUpload"]["upload"]
    async with httpx.AsyncClient() as client:
        png = image_bytes("PNG", (320, 80))
        sent = await client.post(
            upload["url"], data=upload["fields"], files={"file": ("logo.png", png, "image/png")}
        )
    assert sent.status_code in (200, 201, 204)
    completed = await _run(
        router, filled(operations.COMPLETE_UPLOAD, asset=upload["assetId"]), headers
    )
    assert completed["completeThemeAssetUpload"]["asset"]["width"] == 320

    draft = await _run(router, filled(operations.DRAFT, org=org), headers)
    assert draft["organization"]["themeDraft"]["previewUrl"].startswith("/assets/themes/preview/")
    assert len(draft["organization"]["themeDraft"]["css"]["hash"]) == 64

    published = await _run(router, filled(operations.PUBLISH, org=org), headers)
    assert published["publishTheme"]["errors"] == []
    assert published["publishTheme"]["theme"]["version"] == 1

    public = None
    for _ in range(500):  # tenancy's slug announcement reaches themes through the worker
        public = (await router.data(filled(operations.BY_SLUG, slug=slug)))["themeBySlug"]
        if public is not None:
            break
        await asyncio.sleep(0.02)
    assert public is not None
    assert public["light"]["primary"] == "#0a66c2"
    assert public["light"]["primaryForeground"] == "#ffffff"
    assert public["light"]["hover"] not in ("#0a66c2", "#ffffff")
    assert public["logo"]["width"] == 320
    assert public["favicon"] is None
    assert public["css"]["url"] == draft["organization"]["themeDraft"]["css"]["url"]


DRAFT_CSS = """mutation($org: ID!, $css: String!) { updateThemeDraft(input: {organizationId: $org,
  customCss: $css}) { theme { css { hash } } errors { code field message } } }"""
DRAFT_HASH = "query($id: ID!) { organization(id: $id) { themeDraft { css { hash } } } }"
PUBLISH = """mutation($org: ID!, $expected: Int!) { publishTheme(organizationId: $org,
  expectedVersion: $expected) { theme { version } errors { code message } } }"""
RADIUS = """mutation($org: ID!, $radius: Int!) { updateThemeDraft(input: {organizationId: $org,
  radius: $radius}) { errors { code } } }"""
ROLLBACK = """mutation($org: ID!, $version: Int!) { rollbackTheme(organizationId: $org,
  version: $version) { theme { version } errors { code } } }"""
CHANGE_PLAN = """mutation($org: ID!, $plan: String!) {
  changePlan(input: {organizationId: $org, planKey: $plan}) { errors { code } } }"""


async def _draft_hash(router: RouterClient, org: str, token: str) -> str:
    found = await router.data(DRAFT_HASH, {"id": org}, authorization=f"Bearer {token}")
    return str(found["organization"]["themeDraft"]["css"]["hash"])


async def test_custom_css_is_refused_without_white_label_and_changes_nothing(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()  # on the free plan
    before = await _draft_hash(router, org, token)
    variables = {"org": org, "css": ".btn { border-radius: 6px }"}
    drafted = await router.data(DRAFT_CSS, variables, authorization=f"Bearer {token}")
    [error] = drafted["updateThemeDraft"]["errors"]
    assert (error["code"], error["field"]) == ("NOT_ENTITLED", "customCss")
    assert drafted["updateThemeDraft"]["theme"] is None
    assert await _draft_hash(router, org, token) == before
    cleared = await router.data(DRAFT_CSS, {"org": org, "css": ""}, authorization=f"Bearer {token}")
    assert cleared["updateThemeDraft"]["errors"] == []  # removing custom CSS is always allowed


async def test_custom_css_written_on_team_is_not_published_after_a_downgrade(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    auth = {"authorization": f"Bearer {token}"}
    await router.subscribe(token, org, "team")
    variables = {"org": org, "css": ".btn { border-radius: 6px }"}
    drafted = await router.data(DRAFT_CSS, variables, **auth)
    assert drafted["updateThemeDraft"]["errors"] == []
    published = await router.data(PUBLISH, {"org": org, "expected": 0}, **auth)
    assert published["publishTheme"]["theme"]["version"] == 1

    radius = {"org": org, "radius": 12}
    assert (await router.data(RADIUS, radius, **auth))["updateThemeDraft"]["errors"] == []

    changed = await router.data(CHANGE_PLAN, {"org": org, "plan": "pro"}, **auth)
    assert changed["changePlan"] == {"errors": []}
    await until_limited(router, org, token, "pro")  # pro has no white_label
    changed_css = {"org": org, "css": ".btn { border-radius: 2px }"}
    refused_edit = await router.data(DRAFT_CSS, changed_css, **auth)
    assert [e["code"] for e in refused_edit["updateThemeDraft"]["errors"]] == ["NOT_ENTITLED"]
    refused = await router.data(PUBLISH, {"org": org, "expected": 1}, **auth)
    assert [e["code"] for e in refused["publishTheme"]["errors"]] == ["NOT_ENTITLED"]
    assert refused["publishTheme"]["theme"] is None
    back = await router.data(ROLLBACK, {"org": org, "version": 1}, **auth)
    assert [e["code"] for e in back["rollbackTheme"]["errors"]] == ["NOT_ENTITLED"]

    await router.data(DRAFT_CSS, {"org": org, "css": ""}, **auth)
    plain = await router.data(PUBLISH, {"org": org, "expected": 1}, **auth)
    assert plain["publishTheme"]["errors"] == []
    assert plain["publishTheme"]["theme"]["version"] == 2


REQUEST_SVG = """mutation($org: ID!, $kind: ThemeAssetKind!, $size: Int!) {
  requestThemeAssetUpload(input: {organizationId: $org, kind: $kind,
  contentType: "image/svg+xml", sizeBytes: $size}) { upload { assetId url fields }
  errors { code field } } }"""
LOGO_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 75" onload="alert(1)">'
    b'<rect width="300" height="75" fill="#0a66c2"/></svg>'
)


async def test_an_svg_logo_is_completed_with_its_size_and_served_inert_through_the_router(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    auth = {"authorization": f"Bearer {token}"}
    variables = {"org": org, "kind": "LOGO", "size": len(LOGO_SVG)}
    upload = (await router.data(REQUEST_SVG, variables, **auth))["requestThemeAssetUpload"][
        "upload"
    ]
    async with httpx.AsyncClient() as client:
        files = {"file": ("logo.svg", LOGO_SVG, "image/svg+xml")}
        sent = await client.post(upload["url"], data=upload["fields"], files=files)
    assert sent.status_code in (200, 201, 204)
    completed = await _run(
        router, filled(operations.COMPLETE_UPLOAD, asset=upload["assetId"]), auth
    )
    asset = completed["completeThemeAssetUpload"]["asset"]
    assert (asset["kind"], asset["width"], asset["height"]) == ("LOGO", 300, 75)
    assert asset["url"].startswith("/assets/themes/files/")
    assert asset["url"].endswith("/logo.svg")
    served = await router.client.get(asset["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/svg+xml"
    assert (
        served.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    assert b'fill="#0a66c2"' in served.content
    assert b"onload" not in served.content

    favicon = {"org": org, "kind": "FAVICON", "size": len(LOGO_SVG)}
    refused = (await router.data(REQUEST_SVG, favicon, **auth))["requestThemeAssetUpload"]
    assert refused["errors"] == [{"code": "ASSET_TYPE_NOT_ALLOWED", "field": "contentType"}]
