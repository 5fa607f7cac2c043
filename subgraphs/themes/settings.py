"""Themes' settings: where browsers reach its files and how long a preview link lives."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section
from subgraphs.kernel.storage import StorageSettings


class ThemesSettings(Section):
    # The router forwards GET /assets/themes/* to the themes app; an absolute URL (a CDN) too.
    themes_public_url: str = Field(
        default="/assets/themes", pattern=r"^(https?://[^/\s]+)?/[^\s]*$"
    )
    themes_preview_ttl_seconds: int = Field(default=15 * 60, ge=60, le=86400)


class Settings(Protocol):
    """What themes reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def themes(self) -> ThemesSettings: ...
    @property
    def storage(self) -> StorageSettings: ...
