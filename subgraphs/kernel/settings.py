"""The one typed settings object of a process, read from the environment and validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path(".data"), alias="VETRAI_DATA_DIR")
    host: str = Field(default="127.0.0.1", alias="VETRAI_HOST")
    port_offset: int = Field(default=0, ge=0, le=50000, alias="VETRAI_PORT_OFFSET")
    otel_exporter_otlp_endpoint: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    public_url: str = Field(default="http://localhost:4000", alias="VETRAI_PUBLIC_URL")

    database_url: str | None = None
    database_app_role: str = Field(default="vetrai_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    app_database_url: str | None = None
    redis_url: str | None = None

    context_key: SecretStr | None = Field(default=None, alias="VETRAI_CONTEXT_KEY", min_length=32)
    context_ttl_seconds: int = Field(default=60, ge=1, le=3600, alias="VETRAI_CONTEXT_TTL")

    router_port: int = Field(default=4000, ge=1, le=65535)
    worker_port: int = Field(default=8009, ge=1, le=65535)
    router_subgraph_urls: dict[str, str] = Field(default_factory=dict)
    router_config: Path | None = None
    jwks_url: str | None = None

    jwt_keys_file: Path | None = None
    jwt_issuer: str = "vetrai"
    jwt_audience: str = "vetrai"
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    email_token_ttl_seconds: int = Field(default=86400, ge=60)
    password_reset_ttl_seconds: int = Field(default=3600, ge=60)
    invitation_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    login_max_failures_per_email: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)

    queue_name: str = Field(default="vetrai:queue", min_length=1, alias="VETRAI_QUEUE")
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
    # a job whose worker died runs again once this has passed
    job_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    delivery_max_attempts: int = Field(default=5, ge=1, le=20)
    delivery_backoff_seconds: float = Field(default=2.0, ge=0)
    api_keys_max_per_organization: int = Field(default=25, ge=1)
    api_key_default_rate_limit: int = Field(default=600, ge=1)
    api_key_default_rate_window_seconds: int = Field(default=60, ge=1)
    api_key_max_grace_seconds: int = Field(default=7 * 86400, ge=0)

    # billing: Stripe's secret key (unset: the embedded test server), the API's address (unset:
    # Stripe's), webhook signing secrets (the previous one still accepted during a rotation)
    stripe_secret_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_previous_secret: SecretStr | None = None
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)

    def app_database(self) -> tuple[str, str | None]:
        """Where the application connects, and the role it switches to (None: the login is it).

        Without ``APP_DATABASE_URL`` the owner's login switches to the application role on
        connect: row security then applies, but a session could switch back, so production
        should log in as the application role itself.
        """
        if self.app_database_url:
            return self.app_database_url, None
        if not self.database_url:
            raise SettingsError("DATABASE_URL: not set")
        return self.database_url, self.database_app_role

    def secret_path(self, name: str) -> Path:
        """Where development secrets generated on first start are kept."""
        return self.data_dir / "secrets" / name


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a bad value raises SettingsError naming its variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            field = Settings.model_fields.get(name)
            variable = (field.alias if field and field.alias else name).upper()
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
