"""The themes subgraph with object storage, and builders of its callers and test images."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from PIL import Image
from redis.asyncio import Redis

from core.caller import Caller
from core.caller_context import context_key
from subgraphs.kernel.db import Database
from subgraphs.kernel.storage import Storage
from subgraphs.themes.service import ThemesService
from tests.conftest import SignedClient, subgraph_client
from tests.storage_fixtures import storage, storage_settings
from tests.subgraphs.themes.operations import filled
from vetrai.settings import PlatformSettings

__all__ = ["storage", "storage_settings"]

UPDATE = """mutation($input: UpdateThemeDraftInput!) { updateThemeDraft(input: $input) {
  theme { id version isDraft customCss light { primary primaryForeground hover active focusRing
  border muted } css { url hash } contrast { pair ratio required passes suggestion } }
  errors { code field message } } }"""
PUBLISH = """mutation($org: ID!, $expected: Int!, $accept: Boolean! = false) {
  publishTheme(organizationId: $org, expectedVersion: $expected, acceptLowContrast: $accept) {
  theme { id version publishedAt publishedBy acceptedLowContrast rolledBackFrom
  light { primary } css { url hash } } errors { code message } } }"""
ORG_THEMES = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  theme { id version light { primary } } themeDraft { id version previewUrl css { url hash }
  light { primary } logo { url } } themeVersions(first: 10) { version rolledBackFrom } } } }"""


@pytest.fixture(scope="session")
def themes_settings(
    settings: PlatformSettings, storage_settings: PlatformSettings, storage: Storage
) -> PlatformSettings:
    """The session's database and the test storage (its bucket made)."""
    return settings.model_copy(update={"storage": storage_settings.storage})


@pytest.fixture(scope="session")
async def themes(themes_settings: PlatformSettings) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("themes", themes_settings):
        yield client


@pytest.fixture
async def other_process(themes_settings: PlatformSettings) -> AsyncIterator[ThemesService]:
    """The themes service as another replica runs it: its own pool and Redis connections."""
    db = Database(themes_settings.core.login_url("themes"))
    assert themes_settings.core.redis_url
    redis = Redis.from_url(themes_settings.core.redis_url)
    yield ThemesService(db, redis, themes_settings, None, context_key(themes_settings.core))
    await redis.aclose()
    await db.close()


def owner(org_id: UUID | None = None, role: str = "owner", *, white_label: bool = True) -> Caller:
    """A member as the router signs them: on the team plan (custom CSS allowed) unless not
    ``white_label`` (the free plan)."""
    return Caller(
        user_id=uuid4(),
        org_id=org_id or uuid4(),
        roles=frozenset({role}),
        plan="team" if white_label else "free",
        limits={"white_label": white_label},
    )


def light(primary: str = "#0A66C2", **others: str) -> dict[str, str]:
    return {"primary": primary, "background": "#FFFFFF", "foreground": "#111827"} | {
        "link": primary,
        **others,
    }


async def update(themes: SignedClient, caller: Caller, **input: Any) -> dict[str, Any]:
    values = {"organizationId": str(caller.org_id), **input}
    data = await themes.run(UPDATE, {"input": values}, caller)
    payload: dict[str, Any] = data["updateThemeDraft"]
    return payload


async def publish(
    themes: SignedClient, caller: Caller, expected: int, accept: bool = False
) -> dict[str, Any]:
    variables = {"org": str(caller.org_id), "expected": expected, "accept": accept}
    data = await themes.run(PUBLISH, variables, caller)
    payload: dict[str, Any] = data["publishTheme"]
    return payload


async def org_themes(themes: SignedClient, caller: Caller, org_id: UUID) -> dict[str, Any] | None:
    representation = {"__typename": "Organization", "id": str(org_id)}
    data = await themes.run(ORG_THEMES, {"r": [representation]}, caller)
    found: dict[str, Any] | None = data["_entities"][0]
    return found


def image_bytes(fmt: str, size: tuple[int, int], **save: Any) -> bytes:
    """A real image file of ``fmt`` (PNG, JPEG, WEBP), a gradient so it does not compress away."""
    image = Image.new("RGB", size)
    image.putdata(
        [(x % 256, y % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


REQUEST = """mutation($input: RequestThemeAssetUploadInput!) {
  requestThemeAssetUpload(input: $input) { upload { assetId url fields expiresAt }
  errors { code field message } } }"""
COMPLETE = """mutation { completeThemeAssetUpload(assetId: "{asset}") {
  asset { kind width height url files { name url } } errors { code message } } }"""


async def requested_asset(
    themes: SignedClient, caller: Caller, kind: str, content_type: str, size: int
) -> dict[str, Any]:
    values = {"organizationId": str(caller.org_id), "kind": kind, "contentType": content_type}
    data = await themes.run(REQUEST, {"input": values | {"sizeBytes": size}}, caller)
    payload: dict[str, Any] = data["requestThemeAssetUpload"]
    return payload


async def uploaded(upload: dict[str, Any], data: bytes, content_type: str) -> int:
    async with httpx.AsyncClient() as client:
        sent = await client.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("upload", data, content_type)},
        )
    return sent.status_code


async def completed_asset(
    themes: SignedClient, caller: Caller, asset_id: str, operation: str = COMPLETE
) -> dict[str, Any]:
    data = await themes.run(filled(operation, asset=asset_id), caller=caller)
    payload: dict[str, Any] = data["completeThemeAssetUpload"]
    return payload


async def asset_through(
    themes: SignedClient, caller: Caller, kind: str, data: bytes, declared: str, sent_as: str = ""
) -> dict[str, Any]:
    requested = await requested_asset(themes, caller, kind, declared, len(data))
    assert requested["errors"] == [], requested["errors"]
    upload = requested["upload"]
    assert await uploaded(upload, data, sent_as or declared) in (200, 201, 204)
    return await completed_asset(themes, caller, upload["assetId"])
