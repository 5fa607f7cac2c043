"""Object storage against a real S3 server: what the server itself refuses in a presigned upload
or download, bounded reads, and keys that cannot leave their organization."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from core.settings import SettingsError
from subgraphs.kernel.storage import (
    ObjectKey,
    ObjectMissing,
    ObjectTooLarge,
    Storage,
    StorageUnavailable,
    StoredObject,
    Upload,
)
from tests.conftest import eventually
from vetrai.embedded_s3 import free_ports
from vetrai.settings import PlatformSettings, load_settings

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)


def new_key(organization: UUID | None = None) -> ObjectKey:
    return ObjectKey.of(organization or uuid.uuid4(), "tickets", str(uuid.uuid4()))


async def browser_upload(
    upload: Upload, body: bytes, *, file_type: str = "image/png", **fields: str
) -> httpx.Response:
    """A multipart form POST as a browser sends it: the policy's fields, then the file."""
    form = upload.fields | fields
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            upload.url, data=form, files={"file": ("screen.png", body, file_type)}
        )


async def until_refused(url: str) -> httpx.Response:
    """GET ``url`` until the server refuses it (at most 30 s)."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            response = await client.get(url)
            if response.status_code != 200:
                return response
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} was never refused")


def test_key_names_its_organization_first() -> None:
    organization, attachment = uuid.uuid4(), uuid.uuid4()
    key = ObjectKey.of(organization, "tickets", str(attachment))
    assert str(key) == f"orgs/{organization}/tickets/{attachment}"
    assert ObjectKey.parse(str(key)) == key


@pytest.mark.parametrize(
    "segment", ["..", ".", "", "a/b", "../x", "a\\b", " a", "a b", "é", ".hidden", "x" * 129]
)
def test_key_segment_that_could_leave_its_place_is_refused(segment: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        ObjectKey.of(uuid.uuid4(), "tickets", segment)


def test_parsed_key_of_another_shape_is_refused() -> None:
    organization, other = uuid.uuid4(), uuid.uuid4()
    for text in [
        f"orgs/{organization}/../{other}/tickets/x",
        f"orgs/{str(organization).upper()}/tickets/x",
        f"orgs/{organization.hex}/tickets/x",
        f"orgs/{organization}",
        f"orgs/{organization}/tickets//x",
        f"tenants/{organization}/tickets/x",
        f"/orgs/{organization}/tickets/x",
        "orgs",
    ]:
        with pytest.raises(ValueError, match="not an organization's object key"):
            ObjectKey.parse(text)


async def test_browser_uploads_with_the_presigned_post_and_stat_sees_it(storage: Storage) -> None:
    key = new_key()
    upload = storage.presign_upload(key, content_type="image/png", max_bytes=len(PNG))
    assert upload.expires_at - datetime.now(UTC) <= timedelta(minutes=5)
    assert await storage.stat(key) is None
    response = await browser_upload(upload, PNG)
    assert response.status_code in (200, 201, 204), response.text
    found = await storage.stat(key)
    assert found is not None
    assert (found.size, found.content_type) == (len(PNG), "image/png")
    assert found.etag
    assert await storage.read(key, len(PNG)) == PNG


async def test_upload_over_the_size_range_is_refused_by_the_server(storage: Storage) -> None:
    key = new_key()
    upload = storage.presign_upload(key, content_type="image/png", max_bytes=len(PNG) - 1)
    response = await browser_upload(upload, PNG)
    assert response.status_code == 400
    assert "EntityTooLarge" in response.text
    assert await storage.stat(key) is None


async def test_upload_of_another_content_type_is_refused(storage: Storage) -> None:
    key = new_key()
    upload = storage.presign_upload(key, content_type="image/png", max_bytes=len(PNG))
    response = await browser_upload(
        upload, PNG, file_type="text/html", **{"Content-Type": "text/html"}
    )
    assert response.status_code == 403
    assert await storage.stat(key) is None


async def test_upload_to_any_other_key_is_refused_by_the_policy(storage: Storage) -> None:
    organization = uuid.uuid4()
    upload = storage.presign_upload(
        new_key(organization), content_type="image/png", max_bytes=len(PNG)
    )
    other_organization, same_organization = new_key(), new_key(organization)
    for target in (other_organization, same_organization):
        response = await browser_upload(upload, PNG, key=str(target))
        assert response.status_code == 403, target
        assert "Policy" in response.text
        assert await storage.stat(target) is None


async def test_expired_upload_policy_is_refused(storage: Storage) -> None:
    key = new_key()
    upload = storage.presign_upload(
        key, content_type="image/png", max_bytes=len(PNG), expires_in=timedelta(seconds=1)
    )
    await eventually(lambda: datetime.now(UTC) > upload.expires_at, "the upload's expiry")
    response = await browser_upload(upload, PNG)
    assert response.status_code == 403
    assert "expired" in response.text.lower()
    assert await storage.stat(key) is None


async def test_download_url_serves_the_object_as_an_attachment(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, PNG, content_type="image/png")
    url = storage.download_url(key, file_name="Relevé mars.png")
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == PNG
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Relev_ mars.png"')
    assert "filename*=UTF-8''Relev%C3%A9%20mars.png" in disposition


async def test_download_url_stops_working_once_expired(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, PNG, content_type="image/png")
    url = storage.download_url(key, expires_in=timedelta(seconds=1))
    response = await until_refused(url)
    assert response.status_code == 403
    assert "expired" in response.text.lower()


async def test_download_url_signed_for_another_key_is_refused(storage: Storage) -> None:
    mine, theirs = new_key(), new_key()
    await storage.put(theirs, PNG, content_type="image/png")
    url = storage.download_url(mine).replace(str(mine), str(theirs))
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 403


async def test_links_are_signed_for_the_public_address(
    storage: Storage, storage_settings: PlatformSettings
) -> None:
    host, port = storage.endpoint.rsplit(":", 1)
    # the same loopback server under its other name, as a browser may reach it
    alias = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}[host]
    public_url = f"http://{alias}:{port}"
    public = Storage.from_settings(storage_settings.replace(minio_public_url=public_url).storage)
    key = new_key()
    upload = public.presign_upload(key, content_type="image/png", max_bytes=len(PNG))
    assert upload.url == f"{public_url}/{storage.bucket}"
    assert (await browser_upload(upload, PNG)).status_code == 204
    url = public.download_url(key)
    assert url.startswith(f"{public_url}/")
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == PNG
        # the host is signed: the same link sent to the other address is refused
        moved = await client.get(url.replace(public_url, f"http://{host}:{port}", 1))
    assert moved.status_code == 403


async def test_put_then_read_returns_the_bytes_and_type(storage: Storage) -> None:
    key = new_key()
    written = await storage.put(key, PNG, content_type="image/webp")
    assert await storage.stat(key) == written == StoredObject(len(PNG), "image/webp", written.etag)
    assert await storage.read(key, len(PNG)) == PNG


async def test_read_past_the_limit_raises_too_large(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, PNG, content_type="image/png")
    with pytest.raises(ObjectTooLarge):
        await storage.read(key, len(PNG) - 1)


async def test_empty_object_reads_as_no_bytes(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, b"", content_type="text/plain")
    assert await storage.read(key, 10) == b""


async def test_deleted_object_is_gone_and_deleting_again_is_fine(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, PNG, content_type="image/png")
    await storage.delete(key)
    assert await storage.stat(key) is None
    with pytest.raises(ObjectMissing):
        await storage.read(key, len(PNG))
    await storage.delete(key)


async def test_storage_that_is_down_raises_unavailable(storage: Storage) -> None:
    (port,) = free_ports("127.0.0.1", 1)
    down = Storage(f"127.0.0.1:{port}", "key", "secret", storage.bucket)
    key = new_key()
    requests: list[Callable[[], Awaitable[object]]] = [
        down.ensure_bucket,
        lambda: down.stat(key),
        lambda: down.read(key, 10),
        lambda: down.put(key, PNG, content_type="image/png"),
        lambda: down.delete(key),
    ]
    for request in requests:
        with pytest.raises(StorageUnavailable, match=f"127.0.0.1:{port}"):
            await request()


def test_storage_needs_an_endpoint_and_keys() -> None:
    with pytest.raises(SettingsError, match="MINIO_ENDPOINT"):
        Storage.from_settings(load_settings(minio_endpoint=None).storage)
    with pytest.raises(SettingsError, match="MINIO_ACCESS_KEY"):
        Storage.from_settings(
            load_settings(minio_endpoint="localhost:9000", minio_access_key=None).storage
        )
