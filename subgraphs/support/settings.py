"""Support's settings: the largest attachment a ticket accepts, how long a rating link lasts."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section
from subgraphs.kernel.storage import StorageSettings


class SupportSettings(Section):
    support_attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    support_rating_ttl_seconds: int = Field(default=30 * 86400, ge=60)


class Settings(Protocol):
    """What support reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def support(self) -> SupportSettings: ...
    @property
    def storage(self) -> StorageSettings: ...
