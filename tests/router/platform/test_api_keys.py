"""Machine clients through the router: the key lifecycle, scopes, rate limits (also across two
router processes sharing Redis), usage and metrics."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.caller_context import context_key
from tests.conftest import free_port_offset
from tests.router.platform.builders import CREATE, CURRENT, new_key
from tests.router.platform.conftest import RouterClient
from vetrai.settings import PlatformSettings

REVOKE = (
    """mutation { revokeApiKey(id: "%s") { apiKey { id revokedAt } errors { code message } } }"""
)


async def _until(check: Any, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def test_key_as_written_reads_its_organization_then_is_rate_limited(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    created = await new_key(router, token, org)
    assert created["apiKey"]["scopes"] == ["organization:read"]
    assert created["secret"].startswith("vetrai_")
    assert created["secret"].startswith(created["apiKey"]["prefix"])
    statuses, remaining = [], []
    for _ in range(4):
        response = await router.post(CURRENT, x_api_key=created["secret"])
        statuses.append(response.status_code)
        remaining.append(response.headers.get("ratelimit-remaining"))
    assert statuses == [200, 200, 200, 429]
    assert remaining == ["2", "1", "0", "0"]
    refused = await router.post(CURRENT, x_api_key=created["secret"])
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 0 < int(refused.headers["retry-after"]) <= 60
    first = await router.post(CURRENT, x_api_key=(await new_key(router, token, org))["secret"])
    assert first.json() == {"data": {"currentOrganization": {"id": org, "name": "Acme"}}}
    usage = await router.data(
        """query($id: ID!, $from: Date!, $to: Date!) { apiKey(id: $id) {
        usage(from: $from, to: $to) { requests rejected } } }""",
        {"id": created["apiKey"]["id"], "from": str(date.today()), "to": str(date.today())},
        authorization=f"Bearer {token}",
    )
    assert usage["apiKey"]["usage"] == [{"requests": 5, "rejected": 2}]


async def test_key_without_the_scope_is_refused_the_field(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org))["secret"]
    response = await router.post(
        "{ currentOrganization { id members { role } } }", x_api_key=secret
    )
    body = response.json()
    assert body["data"] == {"currentOrganization": {"id": org, "members": None}}
    assert body["errors"][0]["path"] == ["currentOrganization", "members"]
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    owner = await router.data(
        "{ currentOrganization { members { role } } }", authorization=f"Bearer {token}"
    )
    assert owner["currentOrganization"]["members"] == [{"role": "OWNER"}]


async def test_revoked_key_stops_working_within_a_second(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()
    created = await new_key(router, token, org)
    secret = created["secret"]
    assert (await router.post(CURRENT, x_api_key=secret)).status_code == 200
    revoked = await router.data(REVOKE % created["apiKey"]["id"], authorization=f"Bearer {token}")
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None

    async def refused() -> bool:
        return (await router.post(CURRENT, x_api_key=secret)).status_code == 401

    await _until(refused)
    body = (await router.post(CURRENT, x_api_key=secret)).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def _rotated(router: RouterClient, grace_seconds: int) -> tuple[str, str]:
    """A new key of a new organization, rotated with that grace: its old and new secrets."""
    token, org = await router.owner_of_new_organization()
    created = await new_key(router, token, org, CREATE.replace("limit: 3", "limit: 100"))
    old = created["secret"]
    assert (await router.post(CURRENT, x_api_key=old)).status_code == 200
    key_id = created["apiKey"]["id"]
    rotated = await router.data(
        f"""mutation {{ rotateApiKey(id: "{key_id}", gracePeriodSeconds: {grace_seconds})
        {{ secret }} }}""",
        authorization=f"Bearer {token}",
    )
    new: str = rotated["rotateApiKey"]["secret"]
    assert new != old
    return old, new


async def test_rotation_keeps_the_old_secret_for_the_grace_period(router: RouterClient) -> None:
    # A grace no loaded machine outlasts during the test: both secrets work.
    old, new = await _rotated(router, grace_seconds=3600)
    assert (await router.post(CURRENT, x_api_key=new)).status_code == 200
    assert (await router.post(CURRENT, x_api_key=old)).status_code == 200


async def test_rotation_refuses_the_old_secret_once_the_grace_period_ends(
    router: RouterClient,
) -> None:
    old, new = await _rotated(router, grace_seconds=1)

    async def old_refused() -> bool:
        return (await router.post(CURRENT, x_api_key=old)).status_code == 401

    await _until(old_refused)
    assert (await router.post(CURRENT, x_api_key=new)).status_code == 200


async def test_expired_key_is_refused(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()

    def expiring(seconds: int) -> str:
        expires = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
        return CREATE.replace('name: "ci",', f'name: "brief", expiresAt: "{expires}",')

    lasting = (await new_key(router, token, org, expiring(3600)))["secret"]
    assert (await router.post(CURRENT, x_api_key=lasting)).status_code == 200
    secret = (await new_key(router, token, org, expiring(1)))["secret"]

    async def refused() -> bool:
        return (await router.post(CURRENT, x_api_key=secret)).status_code == 401

    await _until(refused)
    assert (await router.post(CURRENT, x_api_key="vetrai_" + "x" * 43)).status_code == 401
    assert (await router.post(CURRENT, x_api_key="not-a-key")).status_code == 401


async def test_metrics_count_traffic_and_rejections(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org))["secret"]
    for _ in range(4):
        await router.post(CURRENT, x_api_key=secret)
    metrics = (await router.client.get("/metrics")).text
    assert 'vetrai_http_requests_total{path="/graphql",service="router",status="429"}' in metrics
    assert 'vetrai_router_subgraph_fetches_total{subgraph="tenancy"}' in metrics
    rejected = next(
        line for line in metrics.splitlines() if line.startswith("vetrai_router_rate_limited_total")
    )
    assert float(rejected.split()[-1]) >= 1


def _wait_until_serving(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the router process exited"
        try:
            httpx.get(url.replace("/graphql", "/health"), timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not start")


@pytest.fixture
def two_routers(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str], tmp_path: Path
) -> Iterator[list[str]]:
    """Two ``vetrai router`` processes, as two replicas would run, sharing the test Redis."""
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    offset = free_port_offset([4000, 4001])
    processes, urls = [], []
    for replica in range(2):
        env = {
            **os.environ,
            "ENVIRONMENT": "test",
            "REDIS_URL": str(settings.core.redis_url),
            "VETRAI_CONTEXT_KEY": context_key(settings.core).decode(),
            "ROUTER_SUBGRAPH_URLS": json.dumps(subgraph_urls),
            "VETRAI_PORT_OFFSET": str(offset + replica),
            "VETRAI_DATA_DIR": str(tmp_path / f"replica-{replica}"),
        }
        processes.append(
            subprocess.Popen(  # noqa: S603 - our own command line
                [sys.executable, "-m", "vetrai", "router", "--supergraph", str(supergraph)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{4000 + offset + replica}/graphql")
    try:
        for process, url in zip(processes, urls, strict=True):
            _wait_until_serving(process, url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


async def test_rate_limit_window_is_shared_by_two_router_processes(
    router: RouterClient, two_routers: list[str]
) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org))["secret"]
    statuses = []
    async with httpx.AsyncClient(timeout=30) as client:
        for url in [two_routers[0], two_routers[1], two_routers[0], two_routers[1]]:
            response = await client.post(
                url, json={"query": CURRENT}, headers={"x-api-key": secret}
            )
            statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]


async def test_keys_of_a_deleted_organization_stop_working(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org))["secret"]
    assert (await router.post(CURRENT, x_api_key=secret)).status_code == 200
    deleted = await router.data(
        f'mutation {{ deleteOrganization(id: "{org}") {{ ok errors {{ code }} }} }}',
        authorization=f"Bearer {token}",
    )
    assert deleted["deleteOrganization"] == {"ok": True, "errors": []}

    async def refused() -> bool:
        return (await router.post(CURRENT, x_api_key=secret)).status_code == 401

    await _until(refused)
