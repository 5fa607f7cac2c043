"""Billing's settings: Stripe's secret key and API address, and the secrets webhooks are signed
with (the previous one still accepted during a rotation)."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field, SecretStr

from core.settings import CoreSettings, Section


class BillingSettings(Section):
    # unset key: the embedded test server in development, else BILLING_PROVIDER_UNAVAILABLE
    stripe_secret_key: SecretStr | None = None
    stripe_api_base: str | None = None  # unset: Stripe's own
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_previous_secret: SecretStr | None = None
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)


class Settings(Protocol):
    """What billing reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def billing(self) -> BillingSettings: ...
