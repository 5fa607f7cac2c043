"""Logos and icons: presigned upload to the embedded S3, checked, decoded within bounds,
re-encoded as PNG without metadata, served immutable; everything else refused with its code
(SVG has its own tests, in test_svg)."""

from __future__ import annotations

import io
import secrets

from PIL import Image

from core.caller import Caller
from subgraphs.kernel.storage import ObjectKey, Storage
from tests.conftest import SignedClient, subgraph_client
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import (
    asset_through,
    completed_asset,
    image_bytes,
    org_themes,
    owner,
    requested_asset,
    uploaded,
)
from tests.subgraphs.themes.operations import filled
from vetrai.settings import PlatformSettings


async def test_the_issue_logo_upload_works_as_written_and_the_logo_is_served(
    themes: SignedClient,
) -> None:
    caller = owner()
    png = image_bytes("PNG", (600, 150))
    requested = await themes.run(
        filled(operations.REQUEST_UPLOAD, org=str(caller.org_id)), caller=caller
    )
    upload = requested["requestThemeAssetUpload"]["upload"]
    assert upload["fields"]["key"].startswith(f"orgs/{caller.org_id}/themes/")
    assert await uploaded(upload, png, "image/png") in (200, 201, 204)
    done = await completed_asset(themes, caller, upload["assetId"], operations.COMPLETE_UPLOAD)
    assert done["errors"] == []
    assert done["asset"]["kind"] == "LOGO"
    assert (done["asset"]["width"], done["asset"]["height"]) == (512, 128)
    again = await completed_asset(themes, caller, upload["assetId"])  # completing twice is harmless
    files = {f["name"]: f["url"] for f in again["asset"]["files"]}
    assert files["logo.png"] == done["asset"]["url"]
    double = await themes.client.get(files["logo-2x.png"].removeprefix("/assets/themes"))
    assert Image.open(io.BytesIO(double.content)).size == (600, 150)  # never enlarged
    served = await themes.client.get(done["asset"]["url"].removeprefix("/assets/themes"))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-security-policy"] == "default-src 'none'"
    assert "immutable" in served.headers["cache-control"]
    assert Image.open(io.BytesIO(served.content)).size == (512, 128)
    seen = await org_themes(themes, caller, caller.org_id)  # type: ignore[arg-type]
    assert seen is not None
    assert seen["themeDraft"]["logo"]["url"] == done["asset"]["url"]


async def test_jpeg_and_webp_become_png_without_metadata_and_fit_their_box(
    themes: SignedClient,
) -> None:
    caller = owner()
    exif = Image.Exif()
    exif[0x010F] = "a camera maker"  # Make
    jpeg = image_bytes("JPEG", (1200, 1200), exif=exif.tobytes(), quality=80)
    icon = await asset_through(themes, caller, "ICON", jpeg, "image/jpeg")
    assert (icon["asset"]["width"], icon["asset"]["height"]) == (512, 512)
    served = await themes.client.get(icon["asset"]["url"].removeprefix("/assets/themes"))
    decoded = Image.open(io.BytesIO(served.content))
    assert decoded.format == "PNG"
    assert not decoded.getexif()
    assert b"a camera maker" not in served.content
    files = {f["name"]: f["url"] for f in icon["asset"]["files"]}
    touch = await themes.client.get(files["touch-icon.png"].removeprefix("/assets/themes"))
    assert Image.open(io.BytesIO(touch.content)).size == (180, 180)
    ico = await themes.client.get(files["favicon.ico"].removeprefix("/assets/themes"))
    assert ico.headers["content-type"] == "image/x-icon"
    assert Image.open(io.BytesIO(ico.content)).info["sizes"] == {(16, 16), (32, 32), (48, 48)}
    webp = image_bytes("WEBP", (300, 300))
    favicon = await asset_through(themes, caller, "FAVICON", webp, "image/webp")
    assert (favicon["asset"]["width"], favicon["asset"]["height"]) == (48, 48)


async def test_requests_for_too_large_or_unsupported_files_are_refused(
    themes: SignedClient,
) -> None:
    caller = owner()
    big = await requested_asset(themes, caller, "FAVICON", "image/png", 256 * 1024 + 1)
    assert [(e["code"], e["field"]) for e in big["errors"]] == [("ASSET_TOO_LARGE", "sizeBytes")]
    gif = await requested_asset(themes, caller, "LOGO", "image/gif", 1000)
    assert [e["code"] for e in gif["errors"]] == ["ASSET_TYPE_NOT_ALLOWED"]
    svg = await requested_asset(themes, caller, "FAVICON", "image/svg+xml", 1000)
    assert [(e["code"], e["field"]) for e in svg["errors"]] == [
        ("ASSET_TYPE_NOT_ALLOWED", "contentType")
    ]
    large_svg = await requested_asset(themes, caller, "ICON", "image/svg+xml", 512 * 1024 + 1)
    assert [e["code"] for e in large_svg["errors"]] == ["ASSET_TOO_LARGE"]
    member = Caller(user_id=caller.user_id, org_id=caller.org_id, roles=frozenset({"member"}))
    refused = await requested_asset(themes, member, "LOGO", "image/png", 1000)
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_a_file_that_is_not_what_it_claims_is_refused(themes: SignedClient) -> None:
    caller = owner()
    html = b"<html><script>alert(1)</script></html>" * 10
    requested = await requested_asset(themes, caller, "LOGO", "image/png", len(html))
    upload = requested["upload"]
    assert await uploaded(upload, html, "image/png") in (200, 201, 204)
    done = await completed_asset(themes, caller, upload["assetId"])
    assert [e["code"] for e in done["errors"]] == ["ASSET_TYPE_NOT_ALLOWED"]
    jpeg = image_bytes("JPEG", (10, 10))
    mislabelled = await asset_through(themes, caller, "LOGO", jpeg, "image/png")
    assert [e["code"] for e in mislabelled["errors"]] == ["ASSET_TYPE_NOT_ALLOWED"]


async def test_a_decompression_bomb_and_an_oversized_image_are_too_large(
    themes: SignedClient,
) -> None:
    caller = owner()
    out = io.BytesIO()
    Image.new("1", (5000, 5000)).save(out, format="PNG")
    bomb = await asset_through(themes, caller, "LOGO", out.getvalue(), "image/png")
    assert [e["code"] for e in bomb["errors"]] == ["IMAGE_TOO_LARGE"]
    wide = io.BytesIO()
    Image.new("1", (4100, 10)).save(wide, format="PNG")
    too_wide = await asset_through(themes, caller, "LOGO", wide.getvalue(), "image/png")
    assert [e["code"] for e in too_wide["errors"]] == ["IMAGE_TOO_LARGE"]


async def test_a_truncated_image_is_unreadable(themes: SignedClient) -> None:
    caller = owner()
    png = image_bytes("PNG", (200, 200))
    done = await asset_through(themes, caller, "LOGO", png[: len(png) // 2], "image/png")
    assert [e["code"] for e in done["errors"]] == ["IMAGE_UNREADABLE"]


async def test_another_organizations_asset_cannot_be_completed(themes: SignedClient) -> None:
    caller = owner()
    png = image_bytes("PNG", (20, 20))
    requested = await requested_asset(themes, caller, "ICON", "image/png", len(png))
    await uploaded(requested["upload"], png, "image/png")
    stranger = owner()
    done = await completed_asset(themes, stranger, requested["upload"]["assetId"])
    assert [e["code"] for e in done["errors"]] == ["NOT_FOUND"]


async def test_the_first_upload_request_creates_a_missing_bucket(
    themes_settings: PlatformSettings,
) -> None:
    bucket = f"themes-{secrets.token_hex(4)}"
    fresh = themes_settings.replace(minio_bucket=bucket)
    async for client in subgraph_client("themes", fresh):
        caller = owner()
        png = image_bytes("PNG", (20, 20))
        done = await asset_through(client, caller, "ICON", png, "image/png")
        assert done["errors"] == []
    assert caller.org_id is not None
    asset_id = done["asset"]["url"].split("/")[-2]
    key = ObjectKey.of(caller.org_id, "themes", "assets", asset_id, "icon.png")
    assert await Storage.from_settings(fresh.storage).stat(key) is not None
