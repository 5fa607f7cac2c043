"""Fixtures of the support tests: the support subgraph app, with storage, and a client that
signs the caller context as the router does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from subgraphs.kernel.storage import Storage
from tests.conftest import SignedClient, subgraph_client
from tests.storage_fixtures import storage, storage_settings
from vetrai.settings import PlatformSettings

__all__ = ["storage", "storage_settings"]


@pytest.fixture(scope="session")
async def support(
    settings: PlatformSettings, storage_settings: PlatformSettings, storage: Storage
) -> AsyncIterator[SignedClient]:
    with_storage = settings.model_copy(update={"storage": storage_settings.storage})
    async for client in subgraph_client("support", with_storage):
        yield client
