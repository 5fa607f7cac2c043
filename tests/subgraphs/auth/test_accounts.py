"""Sign up, log in, tokens and sessions through the auth subgraph's GraphQL API."""

from __future__ import annotations

from typing import Any

from subgraphs.kernel.caller import Caller
from tests.conftest import Subgraph, unique_email

PASSWORD = "correct horse battery"

SIGN_UP = """mutation($email: String!, $password: String!, $name: String!) {
  signUp(input: {email: $email, password: $password, name: $name}) {
    user { id email name } tokens { accessToken refreshToken } errors { code field message } } }"""
LOG_IN = """mutation($email: String!, $password: String!) {
  logIn(input: {email: $email, password: $password}) {
    user { id } tokens { accessToken refreshToken } errors { code field message } } }"""
REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) {
  tokens { accessToken refreshToken } errors { code message } } }"""


async def sign_up(auth: Subgraph, email: str, password: str = PASSWORD, name: str = "Ada") -> Any:
    data = await auth.run(SIGN_UP, {"email": email, "password": password, "name": name})
    return data["signUp"]


async def test_sign_up_returns_user_and_tokens(auth: Subgraph) -> None:
    email = unique_email("ada")
    result = await sign_up(auth, email.upper())
    assert result["errors"] == []
    assert result["user"]["email"] == email
    assert result["user"]["name"] == "Ada"
    assert result["tokens"]["accessToken"].count(".") == 2
    assert len(result["tokens"]["refreshToken"]) >= 43


async def test_second_sign_up_with_same_email_is_email_taken(auth: Subgraph) -> None:
    email = unique_email()
    await sign_up(auth, email)
    result = await sign_up(auth, email, name="Other")
    assert result["user"] is None and result["tokens"] is None
    assert [e["code"] for e in result["errors"]] == ["EMAIL_TAKEN"]
    logged_in = await auth.run(LOG_IN, {"email": email, "password": PASSWORD})
    assert logged_in["logIn"]["errors"] == []
