"""The S3 server of the tests: the embedded SeaweedFS unless ``MINIO_ENDPOINT`` names one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from subgraphs.kernel.storage import Storage
from vetrai import embedded_s3
from vetrai.settings import PlatformSettings, load_settings


@pytest.fixture(scope="session")
def storage_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformSettings]:
    """Settings whose MINIO_* fields reach a running S3 server."""
    if os.environ.get("MINIO_ENDPOINT"):
        yield load_settings(environment="test")
        return
    data: Path = tmp_path_factory.mktemp("storage")
    server = embedded_s3.start(data)
    yield load_settings(environment="test", data_dir=data, **server.as_settings())
    server.stop()


@pytest.fixture(scope="session")
async def storage(storage_settings: PlatformSettings) -> Storage:
    """The storage of the tests, its bucket created."""
    store = Storage.from_settings(storage_settings.storage)
    await store.ensure_bucket()
    return store
