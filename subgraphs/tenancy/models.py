"""Tables of the tenancy schema: organizations, memberships, invitations, active organization."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "tenancy"}


class Role(enum.Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=100)
    slug: str = Field(max_length=63, unique=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    plan: str = Field(default="free", max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID = Field(foreign_key="tenancy.organizations.id")
    user_id: UUID
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    __tablename__ = "invitations"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID = Field(foreign_key="tenancy.organizations.id")
    email: str = Field(max_length=320)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by: UUID
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: UUID | None = None
    revoked_at: datetime | None = None


class ActiveOrganization(SQLModel, table=True):
    """The organization a user last chose to work in."""

    __tablename__ = "active_organizations"
    __table_args__ = SCHEMA

    user_id: UUID = Field(primary_key=True)
    org_id: UUID = Field(foreign_key="tenancy.organizations.id")
