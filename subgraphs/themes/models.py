"""Tables of the themes schema: each organization's draft, its published versions, its
uploaded assets, the slug tenancy announced for it and whether billing said its plan grants
``white_label``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "themes"}


class Draft(SQLModel, table=True):
    """What owners and admins are editing; ``base_version`` is the version it started from."""

    __tablename__ = "drafts"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    tokens: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    custom_css: str = ""
    scoped_css: str = ""
    base_version: int = 0
    updated_by: UUID | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Version(SQLModel, table=True):
    """One immutable published theme; the highest version of an organization is the live one."""

    __tablename__ = "versions"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    tokens: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    custom_css: str = ""
    scoped_css: str = ""
    css: str
    css_hash: str = Field(max_length=64)
    accepted_low_contrast: bool = False
    rolled_back_from: int | None = None
    published_by: UUID | None = None
    published_at: datetime = Field(default_factory=utcnow)


class Asset(SQLModel, table=True):
    """An uploaded logo or icon: ``pending`` until its upload is checked and re-encoded."""

    __tablename__ = "assets"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    kind: str = Field(max_length=16)
    content_type: str = Field(max_length=64)
    size_bytes: int
    status: str = Field(default="pending", max_length=16)
    width: int | None = None
    height: int | None = None
    created_by: UUID | None = None
    created_at: datetime = Field(default_factory=utcnow)


class OrganizationSlug(SQLModel, table=True):
    __tablename__ = "organization_slugs"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    slug: str = Field(max_length=63, unique=True)
    as_of: datetime
    name: str | None = Field(default=None, max_length=100)  # absent from older announcements


class OrganizationWhiteLabel(SQLModel, table=True):
    __tablename__ = "organization_white_label"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    white_label: bool
    as_of: datetime
