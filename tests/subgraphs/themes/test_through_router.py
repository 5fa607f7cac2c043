"""The issue's operations as written, through the router over every subgraph on real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from router.compose.compose import compose
from tests.conftest import unique_slug
from tests.router.platform.conftest import RouterClient, router_client, router_config, served
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import image_bytes
from tests.subgraphs.themes.operations import filled
from vetrai.platform import DOMAINS, composition_sources
from vetrai.settings import PlatformSettings


@pytest.fixture(scope="module")
async def router(themes_settings: PlatformSettings, worker: None) -> AsyncIterator[RouterClient]:
    sdl = compose(composition_sources()).supergraph_sdl
    assert sdl is not None
    servers = [served(spec.create_app(themes_settings)) for spec in DOMAINS]
    urls = {
        spec.name: f"{await server.__aenter__()}/graphql"
        for spec, server in zip(DOMAINS, servers, strict=True)
    }
    async with router_client(themes_settings, sdl, urls, router_config()) as client:
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
