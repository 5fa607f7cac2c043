"""Builders shared by the router's API-key tests: a key created through the router."""

from __future__ import annotations

from typing import Any

from tests.router.platform.conftest import RouterClient

CREATE = """mutation { createApiKey(input: {organizationId: "%s", name: "ci",
  scopes: ["organization:read"], rateLimit: {limit: 3, windowSeconds: 60}}) {
  apiKey { id prefix scopes } secret errors { code field message } } }"""
CURRENT = "query { currentOrganization { id name } }"


async def new_key(
    router: RouterClient, token: str, org: str, mutation: str = CREATE
) -> dict[str, Any]:
    """Create a key as the holder of ``token`` in ``org``; its payload (key and secret)."""
    data = await router.data(mutation % org, authorization=f"Bearer {token}")
    payload: dict[str, Any] = next(iter(data.values()))
    assert payload["errors"] == [], payload
    return payload
