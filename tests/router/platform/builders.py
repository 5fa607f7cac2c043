"""Builders shared by the router's tests: a key created through the router, a user who joined an
organization by its emailed invitation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import emailed, link_token, unique_email
from tests.router.platform.conftest import PASSWORD, RouterClient

CREATE = """mutation { createApiKey(input: {organizationId: "%s", name: "ci",
  scopes: ["organization:read"], rateLimit: {limit: 3, windowSeconds: 60}}) {
  apiKey { id prefix scopes } secret errors { code field message } } }"""
CURRENT = "query { currentOrganization { id name } }"
SIGN_UP = """mutation($e: String!, $p: String!) { signUp(input: {email: $e, password: $p,
  name: "Member"}) { user { id } tokens { accessToken } } }"""
VERIFY = "mutation($t: String!) { verifyEmail(token: $t) { errors { code } } }"
LOG_IN = """mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) {
  tokens { accessToken } errors { code } } }"""
INVITE = """mutation($o: ID!, $e: String!, $r: Role!) { inviteMember(input: {organizationId: $o,
  email: $e, role: $r}) { errors { code } } }"""
ACCEPT = """mutation($t: String!) { acceptInvitation(token: $t) {
  organization { id } errors { code } } }"""


async def new_key(
    router: RouterClient, token: str, org: str, mutation: str = CREATE
) -> dict[str, Any]:
    """Create a key as the holder of ``token`` in ``org``; its payload (key and secret)."""
    data = await router.data(mutation % org, authorization=f"Bearer {token}")
    payload: dict[str, Any] = next(iter(data.values()))
    assert payload["errors"] == [], payload
    return payload


async def signed_up(router: RouterClient, email: str) -> tuple[str, str]:
    """A new user of ``email``, not verified yet: their id and access token."""
    data = await router.data(SIGN_UP, {"e": email, "p": PASSWORD})
    return data["signUp"]["user"]["id"], data["signUp"]["tokens"]["accessToken"]


async def verified(router: RouterClient, owner_engine: AsyncEngine, email: str) -> str:
    """Follow the verification link sent to ``email``; an access token issued after it."""
    token = link_token(await emailed(owner_engine, email, "verify_email"))
    assert (await router.data(VERIFY, {"t": token}))["verifyEmail"]["errors"] == []
    logged_in = (await router.data(LOG_IN, {"e": email, "p": PASSWORD}))["logIn"]
    assert logged_in["errors"] == []
    access: str = logged_in["tokens"]["accessToken"]
    return access


async def invite(
    router: RouterClient,
    owner_engine: AsyncEngine,
    owner: str,
    org: str,
    email: str,
    role: str = "MEMBER",
) -> str:
    """Invite ``email`` (any case) into ``org`` as the holder of ``owner``; the token of the
    emailed link."""
    invited = await router.data(
        INVITE, {"o": org, "e": email, "r": role}, authorization=f"Bearer {owner}"
    )
    assert invited["inviteMember"]["errors"] == []
    return link_token(await emailed(owner_engine, email.lower(), "invitation"))


async def invited_member(
    router: RouterClient, owner_engine: AsyncEngine, owner: str, org: str, role: str = "MEMBER"
) -> tuple[str, str]:
    """A new user who verified their address and joined ``org`` by its invitation: their id and
    access token."""
    email = unique_email("member")
    user_id, _ = await signed_up(router, email)
    invitation = await invite(router, owner_engine, owner, org, email, role)
    token = await verified(router, owner_engine, email)
    accepted = await router.data(ACCEPT, {"t": invitation}, authorization=f"Bearer {token}")
    assert accepted["acceptInvitation"] == {"organization": {"id": org}, "errors": []}
    return user_id, token
