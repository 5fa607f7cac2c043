"""Tables of the auth schema: users, refresh tokens (one family per session), email tokens, and
the members of each organization as tenancy announces them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "auth"}


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=100)
    password_hash: str
    email_verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RefreshToken(SQLModel, table=True):
    """One use of a session: refreshing spends it and issues the next one in the same family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    user_id: UUID = Field(foreign_key="auth.users.id")
    family_id: UUID
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class EmailToken(SQLModel, table=True):
    """A single-use token sent by email: verify an address or reset a password."""

    __tablename__ = "email_tokens"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    user_id: UUID = Field(foreign_key="auth.users.id")
    purpose: str = Field(max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class OrganizationMembers(SQLModel, table=True):
    """Who belongs to an organization, as tenancy last announced it: whom a user may see."""

    __tablename__ = "organization_members"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    user_ids: list[UUID] = Field(sa_column=Column(ARRAY(PG_UUID(as_uuid=True)), nullable=False))
    as_of: datetime
