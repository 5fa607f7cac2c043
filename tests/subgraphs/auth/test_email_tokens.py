"""Email verification, password reset and password change: single-use tokens, session ends."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, emailed, link_token, unique_email
from tests.subgraphs.auth.builders import LOG_IN, PASSWORD, REFRESH, sign_up

NEW_PASSWORD = "purple monkey dishwasher"
VERIFY = (
    "mutation($t: String!) { verifyEmail(token: $t) { user { emailVerified } errors { code } } }"
)
RESET = """mutation($t: String!, $p: String!) { resetPassword(input: {token: $t, newPassword: $p}) {
  ok errors { code field } } }"""


async def emailed_token(owner_engine: AsyncEngine, email: str, kind: str) -> str:
    return link_token(await emailed(owner_engine, email, kind))


async def test_email_verification_token_is_single_use(
    auth: SignedClient, owner_engine: AsyncEngine
) -> None:
    email = unique_email()
    await sign_up(auth, email)
    token = await emailed_token(owner_engine, email, "verify_email")
    assert (await auth.run(VERIFY, {"t": token}))["verifyEmail"] == {
        "user": {"emailVerified": True},
        "errors": [],
    }
    again = (await auth.run(VERIFY, {"t": token}))["verifyEmail"]
    assert [e["code"] for e in again["errors"]] == ["INVALID_TOKEN"]
    async with owner_engine.connect() as connection:
        raw = await connection.scalar(
            text("select count(*) from auth.email_tokens where token_hash = :t"), {"t": token}
        )
    assert raw == 0


async def test_password_reset_ends_every_session(
    auth: SignedClient, owner_engine: AsyncEngine
) -> None:
    email = unique_email()
    tokens = (await sign_up(auth, email))["tokens"]
    requested = await auth.run(
        "mutation($e: String!) { requestPasswordReset(email: $e) { ok } }", {"e": email}
    )
    assert requested["requestPasswordReset"] == {"ok": True}
    token = await emailed_token(owner_engine, email, "reset_password")
    weak = (await auth.run(RESET, {"t": token, "p": "short"}))["resetPassword"]
    assert weak["errors"] == [{"code": "WEAK_PASSWORD", "field": "newPassword"}]
    done = (await auth.run(RESET, {"t": token, "p": NEW_PASSWORD}))["resetPassword"]
    assert done == {"ok": True, "errors": []}
    assert (await auth.run(RESET, {"t": token, "p": NEW_PASSWORD}))["resetPassword"]["errors"] == [
        {"code": "INVALID_TOKEN", "field": "token"}
    ]
    old_session = (await auth.run(REFRESH, {"t": tokens["refreshToken"]}))["refreshTokens"]
    assert [e["code"] for e in old_session["errors"]] == ["INVALID_TOKEN"]
    logged_in = await auth.run(LOG_IN, {"email": email, "password": NEW_PASSWORD})
    assert logged_in["logIn"]["errors"] == []


async def test_reset_for_unknown_address_reveals_nothing(
    auth: SignedClient, owner_engine: AsyncEngine
) -> None:
    email, known = unique_email("nobody"), unique_email()
    await sign_up(auth, known)
    request = "mutation($e: String!) { requestPasswordReset(email: $e) { ok errors { code } } }"
    result = await auth.run(request, {"e": email})
    assert result["requestPasswordReset"] == {"ok": True, "errors": []}
    await auth.run(request, {"e": known})
    await emailed(owner_engine, known, "reset_password")  # the worker has caught up
    async with owner_engine.connect() as connection:
        sent = await connection.scalar(
            text("select count(*) from notifications.deliveries where address = :to"),
            {"to": email},
        )
    assert sent == 0


async def test_change_password_keeps_this_session_and_ends_others(auth: SignedClient) -> None:
    email = unique_email()
    user = (await sign_up(auth, email))["user"]
    other = (await auth.run(LOG_IN, {"email": email, "password": PASSWORD}))["logIn"]["tokens"]
    this = (await auth.run(LOG_IN, {"email": email, "password": PASSWORD}))["logIn"]["tokens"]
    sid = _claims(this["accessToken"])["sid"]
    caller = Caller(user_id=UUID(user["id"]), session_id=UUID(sid))
    change = """mutation($c: String!, $n: String!) {
      changePassword(input: {currentPassword: $c, newPassword: $n}) {
        ok errors { code field } } }"""
    wrong = await auth.run(change, {"c": "not my password", "n": NEW_PASSWORD}, caller)
    assert wrong["changePassword"]["errors"] == [
        {"code": "INVALID_CREDENTIALS", "field": "currentPassword"}
    ]
    done = await auth.run(change, {"c": PASSWORD, "n": NEW_PASSWORD}, caller)
    assert done["changePassword"] == {"ok": True, "errors": []}
    ended = (await auth.run(REFRESH, {"t": other["refreshToken"]}))["refreshTokens"]
    assert [e["code"] for e in ended["errors"]] == ["INVALID_TOKEN"]
    kept = (await auth.run(REFRESH, {"t": this["refreshToken"]}))["refreshTokens"]
    assert kept["errors"] == []


def _claims(token: str) -> dict[str, str]:
    import base64
    import json

    payload = token.split(".")[1]
    result: dict[str, str] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return result
