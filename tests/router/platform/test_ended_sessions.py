"""Access tokens stop working through the router the moment their session ends: log out,
a password change (the other sessions), a replayed refresh token (its whole session); over
WebSocket, a connection of an ended session is closed at its ``connection_init``."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import unique_email
from tests.router.platform.conftest import PASSWORD, RouterClient

ME = "query { me { id } }"
SIGN_UP = """mutation($e: String!, $p: String!) { signUp(input: {email: $e, password: $p,
  name: "Test"}) { tokens { accessToken refreshToken } } }"""
LOG_IN = """mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) {
  tokens { accessToken refreshToken } errors { code } } }"""
REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) {
  tokens { accessToken refreshToken } errors { code } } }"""


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['accessToken']}"}


async def status(router: RouterClient, tokens: dict[str, str]) -> int:
    return (await router.post(ME, None, **bearer(tokens))).status_code


async def signed_up(router: RouterClient) -> tuple[str, dict[str, str]]:
    email = unique_email()
    data = await router.data(SIGN_UP, {"e": email, "p": PASSWORD})
    return email, data["signUp"]["tokens"]


async def payload(router: RouterClient, query: str, variables: dict[str, Any], **h: str) -> Any:
    data = await router.data(query, variables, **h)
    return next(iter(data.values()))


async def test_access_token_is_refused_right_after_log_out(router: RouterClient) -> None:
    _, tokens = await signed_up(router)
    assert await status(router, tokens) == 200
    ended = await payload(
        router,
        "mutation($t: String!) { logOut(refreshToken: $t) { ok } }",
        {"t": tokens["refreshToken"]},
    )
    assert ended == {"ok": True}
    refused = await router.post(ME, None, **bearer(tokens))
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_password_change_ends_the_other_sessions_at_once(router: RouterClient) -> None:
    email, first = await signed_up(router)
    second = (await payload(router, LOG_IN, {"e": email, "p": PASSWORD}))["tokens"]
    changed = await payload(
        router,
        """mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c,
        newPassword: $n}) { ok errors { code } } }""",
        {"c": PASSWORD, "n": "a brand new passphrase"},
        **bearer(first),
    )
    assert changed == {"ok": True, "errors": []}
    assert await status(router, second) == 401
    assert await status(router, first) == 200


async def test_replayed_refresh_token_ends_the_session_for_both_holders(
    router: RouterClient,
) -> None:
    _, tokens = await signed_up(router)
    rotated = (await payload(router, REFRESH, {"t": tokens["refreshToken"]}))["tokens"]
    assert await status(router, rotated) == 200
    replayed = await payload(router, REFRESH, {"t": tokens["refreshToken"]})
    assert [e["code"] for e in replayed["errors"]] == ["INVALID_TOKEN"]
    assert await status(router, rotated) == 401
    assert await status(router, tokens) == 401


async def _connection_init(router: RouterClient, tokens: dict[str, str]) -> Any:
    """The router's first answer to a WebSocket ``connection_init`` carrying the token."""
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": bearer(tokens)}
        await ws.send(orjson.dumps(init).decode())
        return orjson.loads(await asyncio.wait_for(ws.recv(), 30))


async def test_a_websocket_of_an_ended_session_is_closed_at_its_initialisation(
    router: RouterClient,
) -> None:
    _, tokens = await signed_up(router)
    assert await _connection_init(router, tokens) == {"type": "connection_ack"}
    await payload(
        router,
        "mutation($t: String!) { logOut(refreshToken: $t) { ok } }",
        {"t": tokens["refreshToken"]},
    )
    with pytest.raises(ConnectionClosed) as closed:
        await _connection_init(router, tokens)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "UNAUTHENTICATED")
