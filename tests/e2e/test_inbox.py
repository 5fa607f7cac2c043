"""The local inbox of ``vetrai up``: a new user finds the verification email at /_dev/mail and
follows its link in a real browser."""

from __future__ import annotations

import time

import httpx

from tests.conftest import unique_email
from tests.e2e.conftest import BROWSER_FLAGS, ROUTER, Platform, run_query

INBOX = ROUTER.replace("/graphql", "/_dev/mail")


def _sign_up(email: str) -> str:
    query = f"""mutation {{ signUp(input: {{email: "{email}", password: "correct horse battery",
      name: "Lin"}}) {{ tokens {{ accessToken }} }} }}"""
    token: str = run_query(ROUTER, query)["signUp"]["tokens"]["accessToken"]
    return token


def _verified(token: str) -> bool:
    me = run_query(ROUTER, "{ me { emailVerified } }", {"authorization": f"Bearer {token}"})
    return bool(me["me"]["emailVerified"])


def test_the_url_table_names_the_inbox(platform: Platform) -> None:
    assert INBOX in "".join(platform.output)


def test_an_unknown_message_or_a_path_outside_the_inbox_is_not_found(platform: Platform) -> None:
    key = (platform.data / "secrets" / "context.key").read_text()
    for name in ("1-00000000", "..%2Fsecrets%2Fcontext.key", "..%2F..%2Fsecrets%2Fcontext.key"):
        response = httpx.get(f"{INBOX}/{name}")
        assert response.status_code == 404
        assert key not in response.text


async def test_sign_up_then_follow_the_verification_link_from_the_inbox(
    platform: Platform,
) -> None:
    from playwright.async_api import async_playwright

    email = unique_email("lin")
    token = _sign_up(email)
    assert not _verified(token)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=BROWSER_FLAGS
        )
        try:
            page = await browser.new_page()
            message = page.locator("tr", has_text=email).get_by_role("link")
            deadline = time.monotonic() + 30
            while True:  # until the worker has sent it
                await page.goto(INBOX)
                if await message.count() or time.monotonic() > deadline:
                    break
                await page.wait_for_timeout(100)
            await message.click()
            await page.get_by_role("link", name="verify-email").click()
            await page.get_by_role("button", name="Verify").click()
            await page.get_by_text(f"{email} is verified.").wait_for(timeout=20000)
        finally:
            await browser.close()
    assert _verified(token)
