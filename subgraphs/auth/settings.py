"""Auth's settings: the signing keys and the lifetimes of what it issues, and login throttling."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section


class AuthSettings(Section):
    jwt_keys_file: Path | None = None
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    email_token_ttl_seconds: int = Field(default=86400, ge=60)
    password_reset_ttl_seconds: int = Field(default=3600, ge=60)
    # Refusals count per (email, address) and per address, so nobody can lock an owner out
    # from elsewhere; failures for one email from everywhere only slow its logins down.
    login_max_failures_per_email_and_address: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_slow_down_after_failures_per_email: int = Field(default=10, ge=1)
    login_max_delay_seconds: float = Field(default=5.0, ge=0)
    login_failure_window_seconds: int = Field(default=900, ge=1)


class Settings(Protocol):
    """What auth reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def auth(self) -> AuthSettings: ...
