"""S3 object storage for every domain: keys that always carry their organization, presigned
uploads and downloads signed for the address browsers use, bounded reads, puts and deletes."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import quote, urlsplit
from uuid import UUID

import certifi
import urllib3
from minio import Minio
from minio.datatypes import PostPolicy
from minio.error import S3Error, ServerError
from minio.helpers import DictType
from pydantic import Field, SecretStr

from core.settings import Section, SettingsError

P = ParamSpec("P")
T = TypeVar("T")

UPLOAD_EXPIRY = timedelta(minutes=5)
DOWNLOAD_EXPIRY = timedelta(minutes=5)
PREFIX = "orgs"
# A path segment: no separator, no dot segment, nothing a URL or a shell would read specially.
SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MAX_SEGMENTS = 8
# Codes an S3 server answers with while it is overloaded or still starting.
UNAVAILABLE_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError"})
MISSING_CODES = frozenset({"NoSuchKey", "NotFound"})


class StorageSettings(Section):
    """Where objects are kept: MinIO in compose, any S3 in production; without an endpoint the
    development stack and the tests start an embedded SeaweedFS under the data folder."""

    minio_endpoint: str | None = Field(
        default=None, pattern=r"^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?$"
    )
    minio_access_key: str | None = None
    minio_secret_key: SecretStr | None = None
    minio_bucket: str = Field(default="vetrai", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    minio_secure: bool = False
    minio_region: str = Field(default="us-east-1", min_length=1)
    # the address browsers reach the storage at, signed into upload and download links
    minio_public_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+$")


class StorageError(Exception):
    """Base of the failures a domain maps to its own codes."""


class StorageUnavailable(StorageError):
    """The storage server could not be reached or failed to answer; nothing was changed."""


class ObjectMissing(StorageError):
    """No object at that key (never uploaded, or deleted)."""


class ObjectTooLarge(StorageError):
    """The object is larger than the caller is willing to read."""


@dataclass(frozen=True)
class ObjectKey:
    """``orgs/<organization>/<path...>``: the only keys storage accepts, so no key built for one
    organization can name another's object."""

    organization_id: UUID
    path: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.path) <= MAX_SEGMENTS or not all(
            SEGMENT.fullmatch(segment) for segment in self.path
        ):
            raise ValueError(f"invalid object key path: {self.path!r}")

    @classmethod
    def of(cls, organization_id: UUID, *path: str) -> ObjectKey:
        return cls(organization_id, path)

    @classmethod
    def parse(cls, key: str) -> ObjectKey:
        """The key of a stored name; ValueError unless it is exactly what ``str`` makes."""
        try:
            _, organization, *path = key.split("/")
            parsed = cls(UUID(organization), tuple(path))
        except ValueError:
            parsed = None
        if parsed is None or str(parsed) != key:
            raise ValueError(f"not an organization's object key: {key!r}")
        return parsed

    def __str__(self) -> str:
        return "/".join((PREFIX, str(self.organization_id), *self.path))


@dataclass(frozen=True)
class Upload:
    """What a client needs to upload one object itself: a multipart form POST of ``fields``
    then the file (as the form's last part) to ``url``, before ``expires_at``."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    etag: str


class Storage:
    """One bucket of an S3 server. minio's client blocks, so each request runs in a thread;
    signing links makes no request at all (the region is configured, never asked for)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
        public_url: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.public_url = public_url or f"{'https' if secure else 'http'}://{endpoint}"
        public = urlsplit(self.public_url)
        # Fail fast: a server that is down or hangs must not hold a resolver for minutes (a
        # read that timed out is not tried again).
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=10.0),
            retries=urllib3.Retry(
                total=2, read=0, backoff_factor=0.1, status_forcelist=[502, 503, 504]
            ),
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            maxsize=10,
        )
        self._client = Minio(
            endpoint, access_key, secret_key, secure=secure, region=region, http_client=http
        )
        self._signer = Minio(
            public.netloc, access_key, secret_key, secure=public.scheme == "https", region=region
        )

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> Storage:
        if not settings.minio_endpoint:
            raise SettingsError("MINIO_ENDPOINT: not set")
        if not settings.minio_access_key or not settings.minio_secret_key:
            raise SettingsError("MINIO_ACCESS_KEY, MINIO_SECRET_KEY: not set")
        return cls(
            settings.minio_endpoint,
            settings.minio_access_key,
            settings.minio_secret_key.get_secret_value(),
            settings.minio_bucket,
            secure=settings.minio_secure,
            region=settings.minio_region,
            public_url=settings.minio_public_url,
        )

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (another process creating it at once is fine)."""
        await self._request(self._ensure_bucket)

    def presign_upload(
        self,
        key: ObjectKey,
        *,
        content_type: str,
        max_bytes: int,
        min_bytes: int = 1,
        expires_in: timedelta = UPLOAD_EXPIRY,
    ) -> Upload:
        """A POST policy for exactly this key and content type, within the size range; the
        server refuses any other key, type or size, and the whole policy once expired."""
        if expires_in <= timedelta(0):
            raise ValueError("expires_in must be positive")
        expires_at = datetime.now(UTC) + expires_in
        policy = PostPolicy(self.bucket, expires_at)
        policy.add_equals_condition("key", str(key))
        policy.add_equals_condition("Content-Type", content_type)
        policy.add_content_length_range_condition(min_bytes, max_bytes)
        fields = self._signer.presigned_post_policy(policy)
        fields |= {"key": str(key), "Content-Type": content_type}
        return Upload(f"{self.public_url}/{self.bucket}", fields, expires_at)

    def download_url(
        self,
        key: ObjectKey,
        *,
        file_name: str | None = None,
        expires_in: timedelta = DOWNLOAD_EXPIRY,
    ) -> str:
        """A presigned GET; with ``file_name`` browsers save the object rather than show it."""
        headers: DictType | None = (
            {"response-content-disposition": attachment(file_name)} if file_name else None
        )
        return self._signer.presigned_get_object(
            self.bucket, str(key), expires=expires_in, response_headers=headers
        )

    async def stat(self, key: ObjectKey) -> StoredObject | None:
        """Size, type and ETag of the object, or None when there is none (not uploaded yet)."""
        return await self._request(self._stat, str(key))

    async def read(self, key: ObjectKey, max_bytes: int) -> bytes:
        """The object's bytes; ObjectTooLarge past ``max_bytes`` (never more is fetched),
        ObjectMissing when there is none."""
        return await self._request(self._read, str(key), max_bytes)

    async def put(self, key: ObjectKey, data: bytes, *, content_type: str) -> StoredObject:
        result = await self._request(
            self._client.put_object,
            self.bucket,
            str(key),
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )
        return StoredObject(len(data), content_type, result.etag or "")

    async def delete(self, key: ObjectKey) -> None:
        """Remove the object; removing one that is not there is not an error."""
        await self._request(self._client.remove_object, self.bucket, str(key))

    async def _request(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except (urllib3.exceptions.HTTPError, ServerError, OSError) as exc:
            raise StorageUnavailable(f"storage at {self.endpoint}: {type(exc).__name__}") from exc
        except S3Error as exc:
            if exc.code in UNAVAILABLE_CODES:
                raise StorageUnavailable(f"storage at {self.endpoint}: {exc.code}") from exc
            raise

    def _ensure_bucket(self) -> None:
        if self._client.bucket_exists(self.bucket):
            return
        try:
            self._client.make_bucket(self.bucket, self.region)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise

    def _stat(self, name: str) -> StoredObject | None:
        try:
            found = self._client.stat_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                return None
            raise
        return StoredObject(
            found.size or 0, found.content_type or "application/octet-stream", found.etag or ""
        )

    def _read(self, name: str, max_bytes: int) -> bytes:
        try:
            response = self._client.get_object(self.bucket, name, length=max_bytes + 1)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                raise ObjectMissing(name) from None
            if exc.code == "InvalidRange":  # the object is empty
                return b""
            raise
        try:
            data = response.read(max_bytes + 1)
        finally:
            response.close()
            response.release_conn()
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"{name}: over {max_bytes} bytes")
        return data


def attachment(file_name: str) -> str:
    """A Content-Disposition that saves under ``file_name`` (RFC 6266: ASCII fallback, UTF-8)."""
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", file_name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
