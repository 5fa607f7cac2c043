"""The platform's subgraphs and the router, each served over real HTTP on its own port; billing
talks to the Stripe-compatible test server, so an organization can buy a plan."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from router.app import create_router
from router.compose.compose import compose
from router.config import RateLimits, RouterConfig
from tests.conftest import unique_email
from tests.subgraphs.billing.conftest import billing_settings, stripe_server  # noqa: F401
from vetrai.platform import DOMAINS, composition_sources
from vetrai.serve import server_config
from vetrai.settings import PlatformSettings

PASSWORD = "correct horse battery"
PER_MINUTE = {"free": "60", "pro": "600", "team": "3000"}  # the plans' api_requests_per_minute
START = """mutation($org: ID!, $plan: String!) { startSubscription(input: {organizationId: $org,
  planKey: $plan, paymentMethodId: "pm_card_visa"}) { subscription { status } errors { code } } }"""


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` on an ephemeral port of 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def subgraph_urls(
    billing_settings: PlatformSettings,  # noqa: F811 - the billing tests' fixture
) -> AsyncIterator[dict[str, str]]:
    urls: dict[str, str] = {}
    servers = [served(spec.create_app(billing_settings)) for spec in DOMAINS]
    for spec, server in zip(DOMAINS, servers, strict=True):
        urls[spec.name] = f"{await server.__aenter__()}/graphql"
    yield urls
    for server in reversed(servers):
        await server.__aexit__(None, None, None)


@pytest.fixture(scope="session")
def supergraph_sdl() -> str:
    sdl = compose(composition_sources()).supergraph_sdl
    assert sdl is not None
    return sdl


def fresh_rate_limits(**changes: Any) -> RateLimits:
    """The default rate limits, counted apart from every other test's (Redis outlives runs)."""
    return RateLimits(namespace=f"test-{secrets.token_hex(6)}", **changes)


def router_config(**limits: Any) -> RouterConfig:
    return RouterConfig(
        limits=RouterConfig().limits.model_copy(update=limits),
        rate_limits=fresh_rate_limits(),
    )


class RouterClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        return await self.client.post("/graphql", json=body, headers=_headers(headers))

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> Any:
        response = await self.post(query, variables, **headers)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def sign_up(self) -> tuple[str, str]:
        """A new user's id and access token."""
        result = await self.data(
            """mutation($e: String!, $p: String!) { signUp(input: {email: $e, password: $p,
            name: "Test"}) { user { id } tokens { accessToken } } }""",
            {"e": unique_email(), "p": PASSWORD},
        )
        return result["signUp"]["user"]["id"], result["signUp"]["tokens"]["accessToken"]

    async def owner_of_new_organization(self) -> tuple[str, str]:
        """An access token of a user who owns a new organization, and the organization's id."""
        _, token = await self.sign_up()
        created = await self.data(
            """mutation($s: String!) { createOrganization(input: {name: "Acme", slug: $s})
            { organization { id } errors { code } } }""",
            {"s": f"acme-{unique_email().split('@')[0].split('-')[1]}"},
            authorization=f"Bearer {token}",
        )
        return token, created["createOrganization"]["organization"]["id"]

    async def subscribe(self, token: str, org: str, plan: str) -> None:
        """Put ``org`` on ``plan`` (paid by a test card) and wait until the router applies it."""
        started = await self.data(
            START, {"org": org, "plan": plan}, authorization=f"Bearer {token}"
        )
        assert started["startSubscription"]["errors"] == [], started
        await until_limited(self, org, token, plan)


async def until_limited(router: RouterClient, org: str, token: str, plan: str) -> None:
    """Wait until ``org``'s requests are limited as ``plan`` says."""
    deadline = asyncio.get_running_loop().time() + 15
    while not await limited_as(router, org, token, plan):
        assert asyncio.get_running_loop().time() < deadline, f"never limited as {plan}"
        await asyncio.sleep(0.005)


async def limited_as(router: RouterClient, org: str, token: str, plan: str) -> bool:
    response = await router.post(
        "query($id: ID!) { organization(id: $id) { id } }",
        {"id": org},
        authorization=f"Bearer {token}",
    )
    return bool(response.headers.get("ratelimit-limit") == PER_MINUTE[plan])


def _headers(given: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in given.items()}


@asynccontextmanager
async def router_client(
    settings: PlatformSettings, sdl: str, urls: dict[str, str], config: RouterConfig
) -> AsyncIterator[RouterClient]:
    app = create_router(settings, sdl, urls, config)
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield RouterClient(client)


@pytest.fixture(scope="session")
async def router(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> AsyncIterator[RouterClient]:
    async with router_client(settings, supergraph_sdl, subgraph_urls, router_config()) as client:
        yield client
