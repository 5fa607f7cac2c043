"""Builders of auth test data: accounts signed up through the subgraph."""

from __future__ import annotations

from typing import Any

from tests.conftest import SignedClient

PASSWORD = "correct horse battery"


LOG_IN = """mutation($email: String!, $password: String!) {
  logIn(input: {email: $email, password: $password}) {
    user { id } tokens { accessToken refreshToken } errors { code field message } } }"""


REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) {
  tokens { accessToken refreshToken } errors { code message } } }"""


async def sign_up(
    auth: SignedClient, email: str, password: str = PASSWORD, name: str = "Ada"
) -> Any:
    data = await auth.run(SIGN_UP, {"email": email, "password": password, "name": name})
    return data["signUp"]


SIGN_UP = """mutation($email: String!, $password: String!, $name: String!) {
  signUp(input: {email: $email, password: $password, name: $name}) {
    user { id email name } tokens { accessToken refreshToken } errors { code field message } } }"""
