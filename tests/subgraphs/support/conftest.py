"""Fixtures of the support tests: the support subgraph app with a signed-caller client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Subgraph, subgraph_client
from vetrai.settings import PlatformSettings


@pytest.fixture(scope="session")
async def support(settings: PlatformSettings) -> AsyncIterator[Subgraph]:
    async for client in subgraph_client("support", settings):
        yield client
