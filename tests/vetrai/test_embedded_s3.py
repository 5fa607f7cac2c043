"""The embedded S3 server: it serves with the credentials it generated, keeps its data and
credentials across restarts, and is gone once stopped."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from subgraphs.kernel.storage import ObjectKey, Storage, StorageUnavailable
from vetrai import embedded_s3
from vetrai.settings import load_settings


def storage_of(server: embedded_s3.EmbeddedS3) -> Storage:
    return Storage.from_settings(load_settings(**server.as_settings()).storage)


async def test_stopped_server_is_gone_and_restarts_with_its_data(tmp_path: Path) -> None:
    key = ObjectKey.of(uuid.uuid4(), "assets", "logo.png")
    first = await asyncio.to_thread(embedded_s3.start, tmp_path)
    try:
        storage = storage_of(first)
        await storage.ensure_bucket()
        await storage.put(key, b"logo", content_type="image/png")
        assert (tmp_path / "s3" / embedded_s3.IDENTITIES).stat().st_mode & 0o077 == 0
    finally:
        first.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(first.pid, 0)
    with pytest.raises(StorageUnavailable):
        await storage.stat(key)

    second = await asyncio.to_thread(embedded_s3.start, tmp_path)
    try:
        assert (second.access_key, second.secret_key) == (first.access_key, first.secret_key)
        assert await storage_of(second).read(key, 100) == b"logo"
    finally:
        second.stop()
