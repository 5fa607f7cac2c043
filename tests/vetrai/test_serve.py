"""How the platform's HTTP servers run: a client reusing an idle connection is always answered."""

from __future__ import annotations

import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import served

LOAD_BALANCER_IDLE_SECONDS = 60


async def _hello(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def test_a_connection_a_client_still_keeps_is_still_answered() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    keeps = httpx.Limits(keepalive_expiry=LOAD_BALANCER_IDLE_SECONDS)
    async with (
        served(app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=keeps) as client,
    ):
        assert (await client.get("/")).text == "hello"
        # The loop stands still (as between two tests, or on a starved host) past uvicorn's
        # default keep-alive of 5 s: a server closing idle connections that soon would close
        # this one as the next request arrives on it, which then gets no answer at all.
        time.sleep(6)  # noqa: ASYNC251 - the point is that the loop does not run
        assert (await client.get("/")).text == "hello"
