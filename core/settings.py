"""Settings read from the environment: the section every process reads, and the base of the
sections each part of the platform adds (router, each domain); a bad value is named by its
environment variable."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any, Literal, TypeVar

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

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


# ``AUTH_DATABASE_URL``: where the auth subgraph logs in, as its own role.
LOGIN_VARIABLE = re.compile(r"([A-Z][A-Z0-9]*)_DATABASE_URL")


def login_variable(name: str) -> str:
    """The variable holding the database URL of login ``name`` (a domain, or the outbox)."""
    return f"{name.upper()}_DATABASE_URL"


class _Logins(PydanticBaseSettingsSource):
    """Every ``<NAME>_DATABASE_URL`` (environment over .env) into ``database_logins``: the
    names are the registry's domains, so they are listed nowhere here."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {**dotenv_values(".env"), **os.environ}
        logins = {
            match[1].lower(): value
            for variable, value in found.items()
            if value and (match := LOGIN_VARIABLE.fullmatch(variable.upper()))
        }
        return {"database_logins": logins} if logins else {}


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
    # read from the ``<NAME>_DATABASE_URL`` variables, one per domain and the outbox relay
    database_logins: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)
    redis_url: str | None = None

    context_key: SecretStr | None = Field(default=None, alias="VETRAI_CONTEXT_KEY", min_length=32)
    context_ttl_seconds: int = Field(default=60, ge=1, le=3600, alias="VETRAI_CONTEXT_TTL")
    jwt_issuer: str = "vetrai"
    jwt_audience: str = "vetrai"

    worker_port: int = Field(default=8009, ge=1, le=65535)
    queue_name: str = Field(default="vetrai:queue", min_length=1, alias="VETRAI_QUEUE")
    # a job whose worker died runs again once this has passed
    job_timeout_seconds: int = Field(default=60, ge=1, le=3600)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Logins(settings_cls), env_settings, dotenv_settings

    def login_url(self, name: str) -> str:
        """The URL login ``name`` connects with: its own role, never the tables' owner."""
        url = self.database_logins.get(name)
        if not url:
            raise SettingsError(f"{login_variable(name)}: not set")
        return url

    def secret_path(self, name: str) -> Path:
        """Where development secrets generated on first start are kept."""
        return self.data_dir / "secrets" / name

    def generated_secret(self, name: str) -> str:
        """A development secret: made on first use, then read from its file (mode 0600)."""
        path = self.secret_path(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()
