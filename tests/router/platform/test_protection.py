"""The rest of the router's protection: CORS, production defaults, persisted-only mode, rate
limits by organization plan, anonymous address and operation, and the configuration file."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from core.caller_context import context_key
from router.config import PersistedQueries, Protection, RouterConfig, Window
from tests.router.platform.conftest import (
    RouterClient,
    fresh_rate_limits,
    router_client,
    router_config,
)
from vetrai.settings import PlatformSettings

LIMITED_OPERATION = "Limited"


async def test_jwt_caller_works_in_their_active_organization(router: RouterClient) -> None:
    token, org = await router.owner_of_new_organization()
    current = await router.data(
        "{ currentOrganization { id name viewerRole } }", authorization=f"Bearer {token}"
    )
    assert current["currentOrganization"] == {"id": org, "name": "Acme", "viewerRole": "OWNER"}
    other_token, other_org = await router.owner_of_new_organization()
    refused = await router.post(
        "{ currentOrganization { id } }",
        authorization=f"Bearer {token}",
        x_organization_id=other_org,
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Each user lands in their own active organization, not in the one created last.
    for bearer, expected in ((token, org), (other_token, other_org)):
        active = await router.data(
            "{ currentOrganization { id } }", authorization=f"Bearer {bearer}"
        )
        assert active == {"currentOrganization": {"id": expected}}
    named = await router.data(
        "{ currentOrganization { id } }", authorization=f"Bearer {token}", x_organization_id=org
    )
    assert named == {"currentOrganization": {"id": org}}


async def test_cors_allows_only_listed_origins(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    config = router_config().model_copy(
        update={"protection": Protection(cors_origins=["https://app.example.com"])}
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        preflight = {"access-control-request-method": "POST", "origin": "https://app.example.com"}
        allowed = await router.client.options("/graphql", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        elsewhere = {**preflight, "origin": "https://evil.example.net"}
        refused = await router.client.options("/graphql", headers=elsewhere)
        assert "access-control-allow-origin" not in refused.headers


async def test_production_turns_off_graphiql_and_introspection(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    key = SecretStr(context_key(settings.core).decode())
    production = settings.replace(environment="production", context_key=key)
    async with router_client(production, supergraph_sdl, subgraph_urls, router_config()) as router:
        page = await router.client.get("/graphql", headers={"accept": "text/html"})
        assert "GraphiQL" not in page.text
        introspection = await router.post("{ __schema { types { name } } }")
        assert introspection.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


async def test_persisted_only_mode_runs_only_the_manifest(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str], tmp_path: Path
) -> None:
    listed = "query Listed { __typename }"
    digest = hashlib.sha256(listed.encode()).hexdigest()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": digest, "body": listed, "name": "Listed", "type": "query"}],
            }
        )
    )
    config = router_config().model_copy(
        update={"persisted_queries": PersistedQueries(persisted_only=True, manifest=manifest)}
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
        by_hash = await router.client.post(
            "/graphql",
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}},
        )
        assert by_hash.json() == {"data": {"__typename": "Query"}}
        by_text = await router.post(listed)
        assert by_text.json() == {"data": {"__typename": "Query"}}
        other = await router.post("{ me { id } }")
        assert other.status_code == 400
        assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


async def test_rate_limits_by_plan_by_address_and_by_operation(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    free = RouterConfig(
        rate_limits=fresh_rate_limits(plans={"free": Window(limit=3, window_seconds=60)})
    )
    # Billing does not answer: the config's window for tenancy's plan applies.
    unbilled = subgraph_urls | {"billing": "http://127.0.0.1:9/graphql"}
    async with router_client(settings, supergraph_sdl, unbilled, free) as router:
        token, _ = await router.owner_of_new_organization()
        bearer = f"Bearer {token}"
        statuses = [
            (await router.post("{ me { id } }", authorization=bearer)).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]

    anonymous = RouterConfig(
        rate_limits=fresh_rate_limits(anonymous=Window(limit=2, window_seconds=60))
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, anonymous) as router:
        statuses = [(await router.post("{ __typename }")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]

    operation_only = RouterConfig(
        rate_limits=fresh_rate_limits(
            operations={LIMITED_OPERATION: Window(limit=1, window_seconds=60)}
        )
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, operation_only) as router:
        _, token = await router.sign_up()
        body = {"query": f"query {LIMITED_OPERATION} {{ me {{ id }} }}"}
        headers = {"authorization": f"Bearer {token}"}
        first = await router.client.post("/graphql", json=body, headers=headers)
        second = await router.client.post("/graphql", json=body, headers=headers)
        other = await router.client.post(
            "/graphql", json={"query": "query Other { me { id } }"}, headers=headers
        )
        assert (first.status_code, second.status_code, other.status_code) == (200, 429, 200)


def test_router_config_names_the_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "router.yaml"
    config.write_text("limits:\n  max_depth: deep\nrate_limits:\n  anonymus: {}\n")
    result = subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "vetrai", "router", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    assert result.returncode == 1
    assert "limits.max_depth" in result.stderr
    assert "rate_limits.anonymus" in result.stderr
