"""Settings read from the environment: the section every process reads, and the base of the
sections each part of the platform adds (router, each domain); a bad value is named by its
environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="Section")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


class Section(BaseSettings):
    """Settings of one part; a field is read from the variable of its name (or alias)."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of field ``name``."""
        field = cls.model_fields[name]
        return (field.alias or name).upper()


def load(section: type[S], **overrides: Any) -> S:
    """Read ``section`` from the environment; a bad value raises SettingsError naming it."""
    try:
        return section(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            known = name in section.model_fields
            problems.append(f"{section.variable(name) if known else name.upper()}: {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


class CoreSettings(Section):
    """What every process reads: where it runs, logs and traces, PostgreSQL, Redis, the signed
    caller context, the job queue, and the tokens auth issues and the router checks."""

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
    jwt_issuer: str = "vetrai"
    jwt_audience: str = "vetrai"

    worker_port: int = Field(default=8009, ge=1, le=65535)
    queue_name: str = Field(default="vetrai:queue", min_length=1, alias="VETRAI_QUEUE")
    # a job whose worker died runs again once this has passed
    job_timeout_seconds: int = Field(default=60, ge=1, le=3600)

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
