"""Tenancy's settings: how long an invitation stays valid."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section


class TenancySettings(Section):
    invitation_ttl_seconds: int = Field(default=7 * 86400, ge=60)


class Settings(Protocol):
    """What tenancy reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def tenancy(self) -> TenancySettings: ...
