"""Tables of the keys schema: API keys (only the sha256 of their secrets) and their daily usage."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid4

from sqlalchemy import Column, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "keys"}


class ApiKey(SQLModel, table=True):
    """A machine client's credential; after a rotation the previous secret works until
    ``previous_valid_until``."""

    __tablename__ = "api_keys"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True)
    previous_secret_hash: str | None = Field(default=None, max_length=64, unique=True)
    previous_valid_until: datetime | None = None
    scopes: list[str] = Field(sa_column=Column(ARRAY(String(64)), nullable=False))
    rate_limit: int
    rate_window_seconds: int
    created_by: UUID
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class UsageDay(SQLModel, table=True):
    """Requests made with a key on one day (UTC), as flushed from the router's Redis counters."""

    __tablename__ = "usage_days"
    __table_args__ = SCHEMA

    key_id: UUID = Field(foreign_key="keys.api_keys.id", primary_key=True)
    day: date = Field(primary_key=True)
    org_id: UUID
    requests: int = 0
    rejected: int = 0
