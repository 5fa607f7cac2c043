"""The signed preview link of a draft: the sample page in the draft's theme, in a real
browser, for its own organization only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import async_playwright

from core.caller import Caller
from tests.conftest import SignedClient, served
from tests.e2e.conftest import BROWSER_FLAGS
from tests.subgraphs.themes.conftest import light, org_themes, owner, update
from vetrai.platform import domain
from vetrai.settings import PlatformSettings


async def _preview_path(themes: SignedClient, caller: Caller) -> str:
    seen = await org_themes(themes, caller, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    url: str = seen["themeDraft"]["previewUrl"]
    assert url.startswith(f"/assets/themes/preview/{caller.org_id}?token=")
    return url.removeprefix("/assets/themes")


async def test_the_preview_renders_the_draft_with_its_custom_css(themes: SignedClient) -> None:
    caller = owner()
    await update(themes, caller, light=light("#0A66C2"), customCss=".btn { border-radius: 3px }")
    page = await themes.client.get(await _preview_path(themes, caller))
    assert page.status_code == 200
    assert "--vetrai-color-primary: #0a66c2" in page.text
    assert f'<body class="vetrai-org-{caller.org_id.hex}">' in page.text  # type: ignore[union-attr]
    assert "no-store" in page.headers["cache-control"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_a_preview_token_of_one_organization_never_renders_another(
    themes: SignedClient,
) -> None:
    first, second = owner(), owner()
    for caller in (first, second):
        await update(themes, caller, light=light())
    path = await _preview_path(themes, first)
    swapped = path.replace(str(first.org_id), str(second.org_id))
    assert (await themes.client.get(swapped)).status_code == 403
    forged = path[:-4] + ("0000" if not path.endswith("0000") else "1111")
    assert (await themes.client.get(forged)).status_code == 403
    assert (await themes.client.get(path.split("?")[0])).status_code == 403


async def test_a_browser_shows_the_primary_button_in_the_draft_color(
    themes: SignedClient, themes_settings: PlatformSettings, tmp_path: Path
) -> None:
    caller = owner()
    await update(themes, caller, light=light("#0A66C2"))
    path = await _preview_path(themes, caller)
    app = domain("themes").create_app(themes_settings)
    try:
        async with served(app) as port, async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=BROWSER_FLAGS
            )
            try:
                page = await browser.new_page()
                response = await page.goto(f"http://127.0.0.1:{port}{path}")
                assert response is not None
                assert response.status == 200
                button = page.locator("#primary")
                color = await button.evaluate("b => getComputedStyle(b).backgroundColor")
                text = await button.evaluate("b => getComputedStyle(b).color")
                await page.screenshot(path=str(tmp_path / "theme-preview.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await app.state.runtime.db.close()
        await app.state.runtime.redis.aclose()
    assert color == "rgb(10, 102, 194)"
    assert text == "rgb(255, 255, 255)"
    assert (tmp_path / "theme-preview.png").stat().st_size > 0
    assert urlsplit(path).query.startswith("token=")
