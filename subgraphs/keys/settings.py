"""Keys' settings: how many keys an organization may hold, their default rate limit and the
longest grace of an old secret after a rotation, the lifetime of the usage flush's lock."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section


class KeysSettings(Section):
    api_keys_max_per_organization: int = Field(default=25, ge=1)
    api_key_default_rate_limit: int = Field(default=600, ge=1)
    api_key_default_rate_window_seconds: int = Field(default=60, ge=1)
    api_key_max_grace_seconds: int = Field(default=7 * 86400, ge=0)
    # renewed while a flush runs; bounds how long a crashed flush keeps the next one out
    api_key_usage_flush_lock_seconds: float = Field(default=300, gt=0)


class Settings(Protocol):
    """What keys reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def keys(self) -> KeysSettings: ...
