"""Notifications' settings: the SMTP server and SMS provider it delivers through, and how
often a delivery is tried."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import Field, SecretStr

from core.settings import CoreSettings, Section


class NotificationsSettings(Section):
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    email_from: str = "VetrAI <no-reply@localhost>"
    sms_api_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: SecretStr | None = None
    sms_from: str | None = None
    sms_status_url: str | None = None
    delivery_max_attempts: int = Field(default=5, ge=1, le=20)
    delivery_backoff_seconds: float = Field(default=2.0, ge=0)


class Settings(Protocol):
    """What notifications reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def notifications(self) -> NotificationsSettings: ...
