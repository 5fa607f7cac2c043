"""``vetrai up`` as a new user runs it: a fresh data folder, embedded PostgreSQL and Redis,
the operations of the foundation issue over HTTP, Ctrl-C, and a second start on the same data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from core.caller import Caller
from core.caller_context import HEADER, sign_caller
from tests.e2e.conftest import AUTH, BROWSER_FLAGS, ME, ROUTER, TENANCY, Platform
from tests.e2e.conftest import run_query as _run


def _as(data: Path, user_id: str) -> dict[str, str]:
    key = (data / "secrets" / "context.key").read_text().strip().encode()
    return {HEADER: sign_caller(Caller(user_id=UUID(user_id)), audience="tenancy", key=key)}


def test_first_start_prints_progress_and_urls(platform: Platform) -> None:
    text = platform.first_start
    assert "creating the embedded PostgreSQL" in text
    assert "applying migrations" in text
    assert AUTH in text
    assert TENANCY in text
    assert ROUTER in text
    assert "worker" in text
    assert "(the embedded test server; card 4242 4242 4242 4242)" in text
    assert "(the embedded SeaweedFS)" in text


def test_an_owner_subscribes_through_the_embedded_stripe_and_its_webhook_arrives(
    platform: Platform,
) -> None:
    signed_up = _run(
        ROUTER,
        """mutation { signUp(input: {email: "bill@example.com",
      password: "correct horse battery", name: "Bill"}) { tokens { accessToken } } }""",
    )["signUp"]
    owner = _bearer(signed_up["tokens"]["accessToken"])
    created = _run(
        ROUTER,
        """mutation { createOrganization(input: {name: "Ledger", slug: "ledger"})
      { organization { id } } }""",
        owner,
    )["createOrganization"]
    org = created["organization"]["id"]
    started = _run(
        ROUTER,
        f"""mutation {{ startSubscription(input: {{organizationId: "{org}", planKey: "pro",
      paymentMethodId: "pm_card_visa"}}) {{ subscription {{ plan {{ key }} }} errors {{ code }} }}
      }}""",
        owner,
    )["startSubscription"]
    assert started == {"subscription": {"plan": {"key": "pro"}}, "errors": []}
    query = f"""{{ organization(id: "{org}") {{ plan billing {{ invoices(first: 5) {{
      edges {{ node {{ status totalCents }} }} }} }} }} }}"""

    def invoices() -> Any:
        return _run(ROUTER, query, owner)["organization"]["billing"]["invoices"]["edges"]

    paid = [{"node": {"status": "paid", "totalCents": 2900}}]
    deadline = time.monotonic() + 60
    # Invoices are known only from Stripe's events: a paid one means the webhook was delivered.
    while (found := invoices()) != paid:
        assert time.monotonic() < deadline, f"no paid invoice arrived: {found}"
        time.sleep(0.1)
    assert _run(ROUTER, query, owner)["organization"]["plan"] == "pro"


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_one_endpoint_joins_auth_and_tenancy_and_isolates_users(platform: Platform) -> None:
    def sign_up(email: str) -> tuple[str, str]:
        result = _run(
            ROUTER,
            f"""mutation {{ signUp(input: {{email: "{email}",
          password: "correct horse battery", name: "Grace"}}) {{
          user {{ id }} tokens {{ accessToken }} errors {{ code }} }} }}""",
        )["signUp"]
        return result["user"]["id"], result["tokens"]["accessToken"]

    grace, token = sign_up("grace@example.com")
    created = _run(
        ROUTER,
        """mutation { createOrganization(input: {name: "Hopper", slug: "hopper"})
      { organization { id } errors { code } } }""",
        _bearer(token),
    )["createOrganization"]
    org_id = created["organization"]["id"]
    me = _run(ROUTER, ME, _bearer(token))["me"]
    assert me == {
        "id": grace,
        "email": "grace@example.com",
        "organizations": [
            {
                "id": org_id,
                "name": "Hopper",
                "slug": "hopper",
                "members": [
                    {
                        "role": "OWNER",
                        "user": {"id": grace, "email": "grace@example.com", "name": "Grace"},
                    }
                ],
            }
        ],
    }
    _, other_token = sign_up("mallory@example.com")
    assert _run(ROUTER, ME, _bearer(other_token))["me"]["organizations"] == []
    peek = f'query {{ organization(id: "{org_id}") {{ id members {{ user {{ email }} }} }} }}'
    assert _run(ROUTER, peek, _bearer(other_token)) == {"organization": None}
    anonymous = httpx.post(ROUTER, json={"query": ME}, timeout=30).json()
    assert anonymous["data"] == {"me": None}
    # What anonymous callers may not read is removed and named, even under a null.
    assert [e["path"] for e in anonymous["errors"]] == [["me", "organizations", "@", "members"]]
    forged = httpx.post(ROUTER, json={"query": ME}, headers=_bearer(token[:-3] + "abc"))
    assert forged.status_code == 401
    assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_owner_sends_a_notification_as_written_once_per_key(platform: Platform) -> None:
    signed_up = _run(
        ROUTER,
        """mutation { signUp(input: {email: "ida@example.com",
      password: "correct horse battery", name: "Ida"}) { user { id } tokens { accessToken } } }""",
    )["signUp"]
    user, token = signed_up["user"]["id"], signed_up["tokens"]["accessToken"]
    org = _run(
        ROUTER,
        """mutation { createOrganization(input: {name: "Ida's", slug: "idas"})
      { organization { id } } }""",
        _bearer(token),
    )["createOrganization"]["organization"]["id"]
    send = f"""mutation {{ sendNotification(input: {{organizationId: "{org}", userIds: ["{user}"],
      category: "announcement", title: "Hello", body: "World", channels: [IN_APP, EMAIL],
      idempotencyKey: "k1"}}) {{ notifications {{ id }} errors {{ code field message }} }} }}"""
    deadline = time.monotonic() + 30
    while True:  # until the worker of vetrai up has recorded tenancy's member list
        sent = _run(ROUTER, send, _bearer(token))["sendNotification"]
        if not sent["errors"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sent["errors"] == []
    [notification] = sent["notifications"]
    assert _run(ROUTER, send, _bearer(token))["sendNotification"] == sent
    query = """query { me { notifications(first: 10) { totalCount unreadCount
      edges { node { id title read } } } } }"""
    assert _run(ROUTER, query, _bearer(token))["me"]["notifications"] == {
        "totalCount": 1,
        "unreadCount": 1,
        "edges": [{"node": {"id": notification["id"], "title": "Hello", "read": False}}],
    }


async def test_graphiql_runs_a_query_in_a_real_browser(platform: Platform) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=BROWSER_FLAGS
        )
        try:
            page = await browser.new_page()
            await page.goto(ROUTER)
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            await editor.wait_for(timeout=20000)
            await editor.evaluate("node => node.CodeMirror.setValue('{ me { id } }')")
            await page.locator(".graphiql-execute-button").click()
            result = page.locator(".result-window")
            await result.get_by_text('"me": null').wait_for(timeout=20000)
            assert '"data"' in await result.inner_text()
        finally:
            await browser.close()


def test_operations_as_written_then_restart_keeps_data(platform: Platform, data: Path) -> None:
    signed_up = _run(
        AUTH,
        """mutation { signUp(input: {email: "ada@example.com",
      password: "correct horse battery", name: "Ada"}) {
      user { id email name } tokens { accessToken refreshToken }
      errors { code field message } } }""",
    )
    user = signed_up["signUp"]["user"]
    assert user["email"] == "ada@example.com"
    assert signed_up["signUp"]["errors"] == []
    refresh = signed_up["signUp"]["tokens"]["refreshToken"]
    rotated = _run(
        AUTH,
        f"""mutation {{ refreshTokens(refreshToken: "{refresh}") {{
      tokens {{ accessToken refreshToken }} errors {{ code message }} }} }}""",
    )
    assert rotated["refreshTokens"]["errors"] == []
    created = _run(
        TENANCY,
        """mutation { createOrganization(input: {name: "Acme", slug: "acme"}) {
      organization { id name slug } errors { code field message } } }""",
        _as(data, user["id"]),
    )
    org = created["createOrganization"]["organization"]
    read = _run(
        TENANCY,
        f"""query {{ organization(id: "{org["id"]}") {{ id name slug
      members {{ role user {{ id }} }} }} }}""",
        _as(data, user["id"]),
    )
    assert read["organization"]["members"] == [{"role": "OWNER", "user": {"id": user["id"]}}]
    assert httpx.get(AUTH.replace("/graphql", "/health")).json()["status"] == "ok"

    assert platform.restart() == 0
    assert "creating" not in "".join(platform.output)
    logged_in = _run(
        AUTH,
        """mutation { logIn(input: {email: "ada@example.com",
      password: "correct horse battery"}) {
      user { id } tokens { accessToken } errors { code } } }""",
    )
    assert logged_in["logIn"]["user"] == {"id": user["id"]}
    taken = _run(
        AUTH,
        """mutation { signUp(input: {email: "ada@example.com",
      password: "correct horse battery", name: "Ada"}) { user { id } errors { code } } }""",
    )
    assert taken["signUp"] == {"user": None, "errors": [{"code": "EMAIL_TAKEN"}]}
