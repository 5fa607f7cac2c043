"""Support's settings: the largest attachment a ticket accepts, how long a rating link lasts,
the clamd that scans attachments (none: scanning off), the OpenAI-compatible endpoint that
summarizes tickets for their triage (none: no summaries)."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field, SecretStr

from core.settings import CoreSettings, Section
from subgraphs.kernel.storage import StorageSettings


class SupportSettings(Section):
    support_attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    support_rating_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    clamd_host: str | None = Field(default=None, min_length=1)
    clamd_port: int = Field(default=3310, ge=1, le=65535)
    clamd_timeout_seconds: float = Field(default=30.0, gt=0)
    # e.g. https://api.openai.com/v1 or a local server's /v1
    llm_base_url: str | None = Field(default=None, pattern=r"^https?://")
    llm_api_key: SecretStr | None = None
    llm_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=200)
    llm_timeout_seconds: float = Field(default=30.0, gt=0)


class Settings(Protocol):
    """What support reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def support(self) -> SupportSettings: ...
    @property
    def storage(self) -> StorageSettings: ...
